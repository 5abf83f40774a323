"""`flask --app wsgi wallet cancel-round REFERENCE` and `wallet cancels`: the same service as the admin API."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import current_app

from wallet.admin.cli import wallet_cli
from wallet.jsonutil import dumps
from wallet.ledger.outcomes import AdminError
from wallet.provider import service


def _login() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name in some containers
        return "unknown"


def _echo_or_fail(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Print what `run` returns as JSON; an admin error is printed to stderr and exits 1."""
    try:
        result = run()
    except AdminError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(dumps(result, indent=2))
    return result


@wallet_cli.command("cancel-round")
@click.argument("reference")
@click.option("--round-id", help="Refuse unless the bet belongs to this round.")
@click.option("--requested-by", help="Who asks (default: cli <login name>).")
def cancel_round(reference: str, round_id: str | None, requested_by: str | None) -> None:
    """Ask Lucky Monaco to cancel the round of bet REFERENCE (it refunds the bet); exit 2 unless confirmed."""
    record = _echo_or_fail(lambda: service.request_cancel(
        current_app.extensions["wallet.engine"],
        current_app.config["WALLET_SETTINGS"],
        reference,
        round_id=round_id,
        requested_by=requested_by or f"cli {_login()}",
    ))
    if record["status"] != "confirmed":
        sys.exit(2)


@wallet_cli.command("cancels")
@click.argument("cancel_id", required=False)
@click.option("--reference", help="Only the cancels of this bet.")
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
def cancels(cancel_id: str | None, reference: str | None, limit: int, cursor: str | None) -> None:
    """List CancelRound requests, newest first; with CANCEL_ID, one of them with its attempts."""

    def run() -> dict[str, Any]:
        with current_app.extensions["wallet.engine"].connect() as conn:
            if cancel_id is not None:
                return service.get_cancel(conn, cancel_id)
            items, next_cursor = service.list_cancels(conn, limit=limit, cursor=cursor, reference=reference)
            return {"items": items, "nextCursor": next_cursor}

    _echo_or_fail(run)
