"""The schema is Alembic's: `upgrade head` builds exactly what the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import wallet.provider.models  # noqa: F401  (the cancel tables share the ledger's metadata)
from wallet.ledger.models import Base, is_model_object


def test_models_and_migrations_agree(database_url):
    """What `alembic check` says: every table of every model, and nothing left to autogenerate."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": is_model_object}),
                                Base.metadata)
    engine.dispose()
    assert diff == []


def test_constraint_names_follow_the_naming_convention(database_url):
    engine = create_engine(database_url)
    inspector = inspect(engine)
    checks = {c["name"] for c in inspector.get_check_constraints("transactions")}
    uniques = {c["name"] for c in inspector.get_unique_constraints("transactions")}
    engine.dispose()
    assert {"ck_transactions_kind", "ck_transactions_amount_sign"} <= checks
    assert "uq_transactions_reference_kind" in uniques
