"""The Lucky Monaco operator wallet: create_app() builds the Flask application."""

from __future__ import annotations

from flask import Flask

from config import Settings
from wallet.callbacks import codes
from wallet.db import make_engine
from wallet.health import register_health
from wallet.jsonutil import DecimalJSONProvider
from wallet.observability import TracebackBudget, register_logging, register_metrics


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from `settings` (read from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.json = DecimalJSONProvider(app)
    app.config["WALLET_SETTINGS"] = settings
    # Werkzeug refuses to read more than this from a request body (chunked bodies included).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    register_logging(settings)
    register_extensions(app, settings)
    register_blueprints(app)
    register_metrics(app)
    register_health(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask, settings: Settings) -> None:
    options = dict(
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pre_ping=settings.db_pre_ping,
        session_settings={"wallet.error_codes": codes.database_setting(settings.error_codes),
                          "wallet.bonus_win": settings.bonus_win, "wallet.timezone": settings.timezone},
    )
    app.extensions["wallet.engine"] = make_engine(settings.database_url, **options)  # type: ignore[arg-type]
    # Staff lists, searches, reports and exports (wallet/admin/reads.py): the replica of
    # WALLET_READ_DATABASE_URL, else the primary's engine itself.
    app.extensions["wallet.read_engine"] = (
        make_engine(settings.read_database_url, read_only=True, **options)  # type: ignore[arg-type]
        if settings.read_database_url else app.extensions["wallet.engine"])
    # Stack traces of failed callbacks: one per kind every 10 s (wallet/callbacks/blueprint.py).
    app.extensions["wallet.tracebacks"] = TracebackBudget()


def register_blueprints(app: Flask) -> None:
    from wallet.admin.blueprint import bp as admin_bp
    from wallet.admin.openapi import bp as openapi_bp
    from wallet.admin.site import bp as support_bp
    from wallet.admin.site import init_site
    from wallet.callbacks.blueprint import CallbackMiddleware, VersionConverter
    from wallet.callbacks.blueprint import bp as callbacks_bp
    from wallet.admin.provider_api import bp as provider_admin_bp
    from wallet.admin.controls_api import bp as controls_admin_bp
    from wallet.admin.staff_api import bp as staff_admin_bp
    from wallet.admin.history_api import bp as history_admin_bp

    app.url_map.converters["v4"] = VersionConverter
    app.register_blueprint(callbacks_bp)
    # Callbacks are answered in front of Flask (the hot path; wallet/callbacks/blueprint.py).
    app.wsgi_app = CallbackMiddleware(app, app.wsgi_app)  # type: ignore[method-assign]
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(provider_admin_bp, url_prefix="/admin")
    app.register_blueprint(controls_admin_bp, url_prefix="/admin")
    app.register_blueprint(staff_admin_bp, url_prefix="/admin")
    app.register_blueprint(history_admin_bp, url_prefix="/admin")
    app.register_blueprint(openapi_bp)
    init_site(app)  # the back-office site's session cookie, CSRF protection and static files
    app.register_blueprint(support_bp, url_prefix="/support")


def register_errorhandlers(app: Flask) -> None:
    """JSON `{"error", "description"}` for whatever no blueprint answered: HTTP-level errors (unknown
    path 404, wrong method 405, body too large 413, ...) keep their code; any other exception is
    classified by the admin API's last resort (wallet/admin/blueprint.py): a 4xx when the input
    caused it, 503 with Retry-After when the database is unreachable, else a logged 500."""
    from werkzeug.exceptions import HTTPException

    from wallet.admin.blueprint import http_error, unexpected_error

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)


def register_commands(app: Flask) -> None:
    from wallet.admin import controls_cli  # noqa: F401  (adds the operator controls' commands to wallet_cli)
    from wallet.admin import staff_cli  # noqa: F401  (staff, adjustment approvals, audit)
    from wallet.admin import history_cli  # noqa: F401  (request log and rounds: requests, rounds, prune-requests)
    from wallet.admin.cli import wallet_cli

    app.cli.add_command(wallet_cli)
