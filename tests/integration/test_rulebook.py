"""The money rules live in wallet/ledger/sql/, and a database at head holds exactly them.

A change to a function is a new migration with a frozen copy of the new source
(migrations/replaceable.py); these tests fail when the files and the migrations
drift apart: a file edited without a migration, a migration that installs
something else, a function left behind by an old migration, or a downgrade that
does not come back.
"""

from __future__ import annotations

import re

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, text

from tests.support import ROOT, fresh_database
from wallet.ledger.rulebook import FILES, SQL_DIR, source

_DEFINED = re.compile(r"^CREATE OR REPLACE (FUNCTION|VIEW) (\w+)", re.MULTILINE)
_WALLET_OBJECTS = text("""
    SELECT 'FUNCTION ' || p.proname AS name, pg_get_functiondef(p.oid) AS definition
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.proname LIKE 'wallet\\_%'
    UNION ALL
    SELECT 'VIEW ' || c.relname, pg_get_viewdef(c.oid)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'v' AND c.relname LIKE 'wallet\\_%'
    ORDER BY 1, 2
""")


def _objects(conn: Connection) -> list[tuple[str, str]]:
    return [tuple(row) for row in conn.execute(_WALLET_OBJECTS)]  # type: ignore[misc]


def _assert_head_holds_the_files(url: str) -> None:
    """The wallet's functions and views at head, before and after running the files over them
    (all CREATE OR REPLACE, in one transaction that is rolled back): the same names, one
    definition each, and the same text."""
    defined = sorted(f"{kind} {name}" for kind, name in _DEFINED.findall(source()))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            at_head = _objects(conn)
            conn.exec_driver_sql(source())
            from_files = _objects(conn)
            conn.rollback()
    finally:
        engine.dispose()
    assert sorted(name for name, _ in at_head) == defined  # nothing missing, nothing left over
    assert len(set(defined)) == len(defined)  # one definition per name (no stray overloads)
    assert from_files == at_head


def test_every_file_of_the_rulebook_is_installed_and_nothing_else(postgres_url):
    assert sorted(path.name for path in SQL_DIR.glob("*.sql")) == sorted(FILES)
    _assert_head_holds_the_files(postgres_url)


def test_the_migrations_go_down_to_nothing_and_up_again_to_the_same_functions():
    url = fresh_database()  # its own: the session's database stays at head whatever happens here
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    _assert_head_holds_the_files(url)

