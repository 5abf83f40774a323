"""`flask --app wsgi wallet ...`: the admin operations on the command line (same services as the API)."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from wallet.admin import queries
from wallet.jsonutil import dumps
from wallet.ledger import services
from wallet.ledger.outcomes import AdminError
from wallet.money import AmountError, parse_signed_amount

wallet_cli = AppGroup("wallet", help="Operate the wallet: players, adjustments, ledger queries.")


def _engine():  # type: ignore[no-untyped-def]
    return current_app.extensions["wallet.engine"]


def _print(obj: Any) -> None:
    click.echo(dumps(obj, indent=2))


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@wallet_cli.command("create-player")
@click.argument("user_id")
@click.argument("currency")
def create_player(user_id: str, currency: str) -> None:
    """Open a wallet for USER_ID in CURRENCY (ISO 4217)."""
    try:
        with _engine().begin() as conn:
            _print(queries.player_dict(services.create_player(conn, user_id, currency.upper())))
    except AdminError as exc:
        _fail(exc)


@wallet_cli.command("adjust")
@click.argument("user_id")
@click.argument("amount")
@click.option("--reference", required=True, help="Unique reference; repeating it is idempotent.")
@click.option("--reason", required=True, help="Why (deposit, withdrawal, correction ...).")
def adjust(user_id: str, amount: str, reference: str, reason: str) -> None:
    """Credit (positive AMOUNT) or debit (negative) a player's wallet."""
    try:
        value: Decimal = parse_signed_amount(amount)
        with _engine().begin() as conn:
            services.adjust(conn, user_id, value, reference, reason)
            items, _ = queries.list_transactions(conn, queries.TransactionFilter(reference=reference, type="adjustment"), 1)
        _print(items[0])
    except (AdminError, AmountError) as exc:
        _fail(exc)


@wallet_cli.command("set-status")
@click.argument("user_id")
@click.argument("status", type=click.Choice(["active", "frozen"]))
def set_status(user_id: str, status: str) -> None:
    """Freeze or unfreeze a player."""
    try:
        with _engine().begin() as conn:
            _print(queries.player_dict(services.set_status(conn, user_id, status)))
    except AdminError as exc:
        _fail(exc)


@wallet_cli.command("player")
@click.argument("user_id")
def player(user_id: str) -> None:
    """Show a player's balance, currency and status."""
    try:
        with _engine().connect() as conn:
            _print(queries.get_player(conn, user_id))
    except AdminError as exc:
        _fail(exc)


@wallet_cli.command("transactions")
@click.option("--user-id")
@click.option("--round-id")
@click.option("--reference")
@click.option("--type", "type_", type=click.Choice(list(queries.TYPES)))
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
def transactions(user_id: str | None, round_id: str | None, reference: str | None,
                 type_: str | None, limit: int, cursor: str | None) -> None:
    """List ledger entries, newest first."""
    try:
        with _engine().connect() as conn:
            items, next_cursor = queries.list_transactions(
                conn, queries.TransactionFilter(user_id, round_id, reference, type_), limit, cursor
            )
        _print({"items": items, "nextCursor": next_cursor})
    except AdminError as exc:
        _fail(exc)


@wallet_cli.command("round")
@click.argument("round_id")
def round_(round_id: str) -> None:
    """Show a round, its status and its entries."""
    try:
        with _engine().connect() as conn:
            _print(queries.get_round(conn, round_id))
    except AdminError as exc:
        _fail(exc)


@wallet_cli.command("reconcile")
def reconcile() -> None:
    """Check every balance against its entries and every refund against its bet; exit 1 on a mismatch."""
    with _engine().connect() as conn:
        report = queries.reconciliation(conn)
    _print(report)
    if not report["ok"]:
        sys.exit(1)
