"""Alembic environment: the URL comes from the service's own settings (WALLET_DATABASE_URL; unset,
the embedded PostgreSQL under var/postgres, started by make_engine if needed: wallet/pgserver.py)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from config import Settings
from wallet.db import make_engine
from wallet.ledger.models import Base, is_model_object
import wallet.provider.models  # noqa: F401

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str | None:
    """The URL given by the caller (tests), else WALLET_DATABASE_URL; None: the embedded server."""
    return config.attributes.get("database_url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    # `alembic upgrade --sql` only writes SQL: the dialect is enough, no server is started for it.
    context.configure(url=_url() or "postgresql+psycopg://", target_metadata=target_metadata, literal_binds=True,
                      include_name=is_model_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          include_name=is_model_object)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          include_name=is_model_object)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
