"""Migration 0003 creates exactly the indexes the models declare, and downgrades cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from tests.support import ROOT
from wallet.ledger.models import Base


def test_migrated_schema_matches_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("transactions")}
    engine.dispose()
    assert diff == []
    assert {"ix_transactions_round_pk_id", "ix_transactions_kind_id"} <= indexes
    assert "ix_transactions_round_pk" not in indexes


def test_0003_downgrades_to_the_0001_indexes(tmp_path):
    url = f"sqlite:///{tmp_path / 'down.sqlite3'}"
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "0003")
    command.downgrade(cfg, "0001")
    engine = create_engine(url)
    with engine.connect() as conn:
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("transactions")}
    engine.dispose()
    assert indexes == {"ix_transactions_created_at", "ix_transactions_player_id_id", "ix_transactions_round_pk"}
