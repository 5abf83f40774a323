"""Migration 0002 matches the models (what `alembic check` says), on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import wallet.provider.models  # noqa: F401  (registers the cancel tables on the shared metadata)
from wallet.ledger.models import Base


def test_migrated_schema_has_nothing_left_to_autogenerate(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
