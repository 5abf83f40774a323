"""`flask wallet ...`: the CLI answers what the API answers, as tables, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from tests.admin_scenario import get, seed
from wallet.ledger.models import players

TODAY = datetime.now(UTC).date()
SINCE, UNTIL = (TODAY - timedelta(days=1)).isoformat(), (TODAY + timedelta(days=1)).isoformat()


@pytest.fixture
def ids(provider, operator):
    return seed(provider, operator)


def wallet(app, *args: str):  # noqa: ANN001, ANN201
    return app.test_cli_runner().invoke(args=["wallet", *args])


@pytest.mark.parametrize("args, path", [
    (["transactions", "--status", "open"], "/transactions?status=open"),
    (["transactions", "--user-id", "p1", "--limit", "3"], "/transactions?userId=p1&limit=3"),
    (["transaction", "5"], "/transactions/5"),
    (["reference", "b2"], "/transactions/by-reference/b2"),
    (["round", "r1"], "/rounds/r1"),
    (["history", "p1", "--limit", "2"], "/players/p1/history?limit=2"),
    (["daily-report", "--from", SINCE, "--to", UNTIL], f"/reports/daily?from={SINCE}&to={UNTIL}"),
    (["reconcile"], "/reconciliation"),
    (["player", "p2"], "/players/p2"),
])
def test_cli_json_is_the_api_answer(app, operator, ids, args, path):
    result = wallet(app, *args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output, parse_float=Decimal) == get(operator, path)


def test_cli_prints_a_readable_table_by_default(app, ids):
    result = wallet(app, "round", "r2")
    assert result.exit_code == 0, result.output
    assert "status: cancelled" in result.output
    assert "totals: bets 5.00, wins 0.00, refunds 5.00, cancels 0.00, prizes 0.00, net 0.00" in result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("transactionId"))
    assert header.split() == ["transactionId", "createdAt", "type", "status", "userId", "roundId", "reference",
                              "amount", "balanceAfter", "currency", "refundedBy"]
    assert any(" bet " in line and "refunded" in line and "-5.00" in line for line in lines)


def test_cli_transactions_pages_with_the_printed_cursor(app, ids):
    first = wallet(app, "transactions", "--limit", "8")
    cursor = first.output.strip().splitlines()[-1].split("--cursor ")[1]
    last = wallet(app, "transactions", "--limit", "8", "--cursor", cursor)
    assert "next page" not in last.output and len([ln for ln in last.output.splitlines() if "adjustment" in ln]) == 1


def test_cli_csv_export_streams_every_match(app, ids):
    result = wallet(app, "transactions", "--csv", "--type", "bet", "--limit", "1")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 4 and {r["type"] for r in rows} == {"bet"}
    assert {r["amount"] for r in rows} == {"-10.00", "-5.00", "-2.50", "-100"}


def test_cli_report_csv_flattens_counts_and_sums(app, ids):
    result = wallet(app, "daily-report", "--from", SINCE, "--to", UNTIL, "--csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    usd = next(r for r in rows if r["day"] == "total" and r["currency"] == "USD")
    assert usd["bets.count"] == "3" and usd["bets.sum"] == "17.50" and usd["ggr"] == "-12.50"


def test_cli_reconcile_exits_1_and_names_the_mismatch(app, ids):
    assert wallet(app, "reconcile").exit_code == 0
    with app.extensions["wallet.engine"].begin() as conn:
        conn.execute(update(players).where(players.c.user_id == "p2").values(balance=1))
    result = wallet(app, "reconcile")
    assert result.exit_code == 1 and "MISMATCHES FOUND" in result.output
    assert "balance_differs_from_entries" in result.output and "p2" in result.output


@pytest.mark.parametrize("args", [["round", "nope"], ["transaction", "999"], ["history", "nobody"],
                                  ["transactions", "--from", "yesterday"], ["transactions", "--cursor", "zz"],
                                  ["daily-report", "--from", "2026-02-01", "--to", "2026-01-01"]])
def test_cli_errors_exit_1_with_a_message(app, ids, args):
    result = wallet(app, *args)
    assert result.exit_code == 1 and "error:" in result.output


def test_cli_writes_say_what_they_did_and_when_a_repetition_did_nothing(app, ids):
    opened = wallet(app, "create-player", "p-cli", "eur", "--reason", "new customer")
    assert opened.exit_code == 0 and json.loads(opened.stdout)["currency"] == "EUR"
    assert opened.stderr.strip() == "player p-cli opened in EUR"
    frozen = wallet(app, "set-status", "p-cli", "frozen", "--reason", "chargeback")
    assert frozen.exit_code == 0 and json.loads(frozen.stdout)["status"] == "frozen"
    assert "player p-cli is now frozen (was active)" in frozen.stderr
    again = wallet(app, "set-status", "p-cli", "frozen", "--reason", "chargeback")
    assert again.exit_code == 0 and json.loads(again.stdout)["status"] == "frozen"
    assert again.stderr.splitlines()[0] == "player p-cli was already frozen; nothing changed"
    assert "CloseSession at the provider" in again.stderr  # a repeated freeze retries closing the session
    paid = wallet(app, "adjust", "p-cli", "5.00", "--reference", "cli-dep-1", "--reason", "deposit")
    assert paid.exit_code == 0 and paid.stderr.strip() == "adjustment cli-dep-1 posted: +5.00 to p-cli"
    repeated = wallet(app, "adjust", "p-cli", "5.00", "--reference", "cli-dep-1", "--reason", "deposit")
    assert repeated.exit_code == 0 and "already posted; nothing changed" in repeated.stderr
    assert json.loads(repeated.stdout) == json.loads(paid.stdout)
