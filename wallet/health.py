"""Liveness and readiness for the reverse proxy and the orchestrator.

/healthz: the process answers (no database), for restarts.
/readyz:  the database answers and its Alembic revision is the code's head, for
          routing traffic: 503 otherwise, so a host never takes callbacks
          before `alembic upgrade head` has run against its database.
"""

from __future__ import annotations

import logging

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from config import ROOT
from wallet.jsonutil import dumps

bp = Blueprint("health", __name__)
_REVISION = text("SELECT version_num FROM alembic_version")
log = logging.getLogger("wallet.health")


def code_heads() -> frozenset[str]:
    """The Alembic head revision(s) of the migrations shipped with this code."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _json(body: dict[str, object], status: int) -> tuple[str, int, dict[str, str]]:
    return dumps(body), status, {"Content-Type": "application/json", "Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    return _json({"status": "ok"}, 200)


@bp.get("/readyz")
def readyz() -> tuple[str, int, dict[str, str]]:
    heads = current_app.extensions["wallet.migration_heads"]
    try:
        with current_app.extensions["wallet.engine"].connect() as conn:
            try:
                current = set(conn.execute(_REVISION).scalars())
            except SQLAlchemyError:  # no alembic_version table: never migrated
                current = set()
    except SQLAlchemyError as exc:
        log.warning("not ready: database unreachable", extra={"fields": {"error": type(exc).__name__}})
        return _json({"status": "unavailable", "database": "unreachable"}, 503)
    if current != heads:
        return _json({"status": "unavailable", "database": "ok", "migrations": "not at head",
                      "revision": sorted(current), "head": sorted(heads)}, 503)
    return _json({"status": "ok", "database": "ok", "revision": sorted(current)}, 200)


def register_health(app: Flask) -> None:
    app.extensions["wallet.migration_heads"] = code_heads()
    app.register_blueprint(bp)
