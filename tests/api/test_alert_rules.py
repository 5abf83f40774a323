"""The alerting rules of config/prometheus-alerts.yml: valid, firing as intended, and naming
only series the service really exports (so that renaming a metric breaks this test, not the
operator's alerts), plus the failure counter they page on.

promtool comes from Debian's prometheus package, unpacked into the venv by `make test`
(Makefile, target `promtool`); without it the two promtool tests are skipped and say why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import wallet.callbacks.blueprint as blueprint
from tests.conftest import Provider, make_app
from tests.support import ROOT, callback_body

RULES = ROOT / "config" / "prometheus-alerts.yml"
RULE_TESTS = Path(__file__).with_name("prometheus-alerts.test.yml")


def _promtool() -> str:
    found = shutil.which("promtool", path=str(Path(sys.executable).parent)) or shutil.which("promtool")
    if not found:
        pytest.skip("promtool not found (`make test` unpacks it from Debian's prometheus package into .venv/bin)")
    return found


def _promtool_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], cwd=RULE_TESTS.parent, capture_output=True, text=True, timeout=120)


def test_the_rules_file_is_valid():
    done = _promtool_run("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_each_alert_fires_when_it_should_and_not_before():
    done = _promtool_run("test", "rules", RULE_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def _selectors(text: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """Every wallet_* series the rules name, with the label values they match on."""
    found = set()
    for name, matchers in re.findall(r"\b(wallet_[a-z_]+)(\{[^}]*\})?", text):
        found.add((name, frozenset(re.findall(r'(\w+)="([^"]*)"', matchers))))
    return found


def test_every_series_and_label_value_the_rules_name_is_exported(provider, client, player):
    # Something of every kind the rules look at: money moved, a refund applied and one without a
    # bet, an error 5 (a uuid reused with another body), and a callback failed on the database.
    bet = callback_body("Bet", reference="alert-1", amount="1.00")
    assert provider.send("Bet", bet)["error"] == 0
    assert provider.send("Bet", {**bet, "amount": "2.00"})["error"] == 5
    assert provider.call("Refund", reference="alert-1")["error"] == 0
    assert provider.call("Refund", reference="alert-none")["error"] == 0
    down = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert Provider(down.test_client()).call("Bet")["error"] == 100
    down.extensions["wallet.engine"].dispose()

    page = client.get("/metrics").get_data(as_text=True)
    exported = [(s.name, s.labels) for family in text_string_to_metric_families(page) for s in family.samples]
    wanted = _selectors(RULES.read_text())
    assert {name for name, _ in wanted} >= {
        "wallet_callbacks_total", "wallet_callback_failures_total", "wallet_callback_duration_seconds_bucket",
        "wallet_refunds_total"}
    missing = [(name, dict(labels)) for name, labels in wanted
               if not any(n == name and dict(labels).items() <= got.items() for n, got in exported)]
    assert missing == []


def _failures(method: str, kind: str) -> float:
    return REGISTRY.get_sample_value("wallet_callback_failures_total", {"method": method, "kind": kind}) or 0.0


def test_failures_are_counted_by_kind_and_player_not_found_is_not_one(provider, monkeypatch):
    database, unexpected = _failures("Refund", "database"), _failures("Bet", "unexpected")
    not_found = _failures("Balance", "database") + _failures("Balance", "unexpected")
    assert provider.call("Balance", userId="nobody-here")["error"] == 100  # player not found: no failure

    down = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert Provider(down.test_client()).call("Refund")["error"] == 100
    down.extensions["wallet.engine"].dispose()

    def broken(*args, **kwargs):  # a bug in the wallet, not the database
        raise RuntimeError("boom")

    monkeypatch.setattr(blueprint, "run_callback", broken)
    assert provider.call("Bet", reference="alert-bug", amount="1.00")["error"] == 100

    assert _failures("Refund", "database") == database + 1
    assert _failures("Bet", "unexpected") == unexpected + 1
    assert _failures("Balance", "database") + _failures("Balance", "unexpected") == not_found
