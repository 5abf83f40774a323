"""Every revision released after the linter arrived passes squawk (.squawk.toml).

For each revision of migrations/versions (whatever exists, found through Alembic), the SQL that
`alembic upgrade --sql <previous>:<revision>` prints is linted by squawk-cli; a finding fails
that revision's test with squawk's own words. Revisions released before the linter are exempt
(RELEASED_BEFORE_THE_LINTER): migrations are immutable once released.

One convention is the rulebook's, not squawk's: its objects (named wallet_*) are replaced by
dropping and re-creating them in the migration's one transaction (migrations/replaceable.py),
so that no caller ever sees them missing. Their DROP VIEW is marked `-- squawk-ignore
ban-drop-view` before linting, and only after checking that the revision's SQL is one
transaction.

A finding judged safe in one revision (a new table's index, a counter that stays small) is
listed in REVIEWED with the reason, for that revision and rule only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.support import ROOT

RELEASED_BEFORE_THE_LINTER = {"0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010"}
# A finding accepted after review, for one revision only: {revision: {rule: why it is safe there}}.
# The reason is the review's record; an empty reason is refused.
REVIEWED: dict[str, dict[str, str]] = {
    "0013": {
        "renaming-table": "the old request log is renamed, copied and dropped in the one transaction that also "
                          "replaces every function reading or writing it (the rulebook): no client sees the gap",
        "renaming-object": "its primary key's name, in the same transaction, so the new table can take it",
        "ban-drop-table": "the old request log, copied into the partitioned one in the same transaction",
        "prefer-bigint-over-int": "`error` holds the provider's error codes (at most three digits), not a counter",
    },
}

SQUAWK = shutil.which("squawk", path=str(ROOT / ".venv" / "bin")) or shutil.which("squawk")
RULEBOOK_DROP = re.compile(r"^DROP VIEW (IF EXISTS )?wallet_\w+;", re.MULTILINE)


def _revisions() -> list[tuple[str | None, str]]:
    """(previous, revision) for every revision, oldest first."""
    script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    found = [(rev.down_revision, rev.revision) for rev in script.walk_revisions()]
    return list(reversed(found))  # type: ignore[arg-type]


LINTED = [pair for pair in _revisions() if pair[1] not in RELEASED_BEFORE_THE_LINTER]


def offline_sql(previous: str | None, revision: str) -> str:
    """What `alembic upgrade --sql previous:revision` prints: the revision's SQL, as run."""
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "--sql", f"{previous}:{revision}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def squawk(sql: str, name: str) -> list[dict[str, object]]:
    """squawk's findings on `sql` (the project's .squawk.toml applies)."""
    assert SQUAWK, "squawk is not installed: pip install -r requirements-dev.txt"
    done = subprocess.run([SQUAWK, "--config", str(ROOT / ".squawk.toml"), "--reporter", "json",
                           "--stdin-filepath", name], input=sql, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout or "[]")


def test_the_revisions_after_the_linter_are_linted_and_the_exempt_ones_exist() -> None:
    revisions = {rev for _, rev in _revisions()}
    assert RELEASED_BEFORE_THE_LINTER <= revisions
    assert "0011" in {rev for _, rev in LINTED}


def test_squawk_flags_what_it_should() -> None:
    """The linter runs here and does find a blocking change (so a pass below means something)."""
    found = squawk("BEGIN;\nCREATE INDEX ix_t_a ON transactions (amount);\nALTER TABLE players ADD COLUMN x "
                   "integer NOT NULL;\nDROP VIEW some_report;\nCOMMIT;\n", "probe.sql")
    assert {f["rule_name"] for f in found} >= {"require-concurrent-index-creation", "adding-required-field",
                                               "ban-drop-view"}


@pytest.mark.parametrize(("previous", "revision"), LINTED, ids=[rev for _, rev in LINTED])
def test_revision_passes_squawk(previous: str | None, revision: str) -> None:
    sql = offline_sql(previous, revision)
    if RULEBOOK_DROP.search(sql):
        body = [line for line in sql.splitlines() if line.strip() and not line.startswith("--")]
        assert body[0] == "BEGIN;" and body[-1] == "COMMIT;", "the rulebook must be replaced in one transaction"
        sql = RULEBOOK_DROP.sub(lambda m: "-- squawk-ignore ban-drop-view\n" + m.group(0), sql)
    accepted = REVIEWED.get(revision, {})
    assert all(why.strip() for why in accepted.values()), "a reviewed finding needs its reason"
    findings = [f for f in squawk(sql, f"{revision}.sql") if f["rule_name"] not in accepted]
    lines = sql.splitlines()
    report = [f"line {f['line']}: {f['rule_name']}: {f['message']}\n    {lines[int(f['line'])].strip()[:160]}"  # type: ignore[call-overload]
              for f in findings]
    assert not findings, f"squawk on revision {revision}:\n" + "\n".join(report)
