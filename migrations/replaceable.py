"""Replaceable objects (Alembic cookbook, "Replaceable Objects"): functions and views from SQL files.

A migration that installs stored functions keeps a frozen copy of their source
beside it (`migrations/versions/<revision>/*.sql`, copied from
wallet/ledger/sql/ when the migration is written) and installs that copy, so
that migrating a database later installs exactly what the revision meant,
whatever the current files say. Going back re-installs the previous revision's
rulebook. The current source lives in wallet/ledger/sql/; a test
(tests/integration/test_rulebook.py) proves that a database at head holds
exactly what those files define, so a change to a file without a migration
that installs it cannot go unnoticed.

A revision replaces the rulebook whole: `drop_rulebook()` removes every
`wallet_*` function and view of the previous one (functions whose arguments
changed cannot be replaced in place), then its snapshot is installed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import context, op

VERSIONS = Path(__file__).resolve().parent / "versions"


def snapshot(revision: str, files: tuple[str, ...]) -> str:
    """The frozen SQL of `revision`: its files, in order, as one script."""
    return "\n".join((VERSIONS / revision / name).read_text() for name in files)


def execute_script(sql: str) -> None:
    """Run a script of several statements (function bodies hold semicolons and colons, so it is
    sent as written: no statement splitting, no bind-parameter parsing)."""
    if context.is_offline_mode():
        op.execute(sql)
    else:
        op.get_bind().exec_driver_sql(sql)


# Every wallet_* function and view, whatever their arguments: the rulebook a revision replaces.
_DROP_RULEBOOK = """
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema() AND starts_with(p.proname, 'wallet_') LOOP
    EXECUTE 'DROP FUNCTION ' || r.signature;
  END LOOP;
END
$$;
DROP VIEW IF EXISTS wallet_reference_entries;
"""


def drop_rulebook() -> None:
    """Remove the installed rulebook (every wallet_* function, and its view)."""
    execute_script(_DROP_RULEBOOK)
