"""`flask --app wsgi wallet staff ...`, adjustment approvals and the audit trail on the command line.

    wallet staff add USERNAME ROLE [--password] [--no-password]   prints the first token (once)
    wallet staff list [--json]
    wallet staff disable USERNAME [--enable]
    wallet staff role USERNAME ROLE
    wallet staff token USERNAME [--revoke ID]                   a new token (printed once), or revoke one
    wallet staff password USERNAME                               prompted twice, or read from stdin (--stdin)
    wallet adjustments [--status pending]
    wallet adjustment-approve ID / adjustment-reject ID
    wallet audit [--actor --action --target --from --to] [--json | --csv]

The CLI acts as `cli:<os login>` with the admin role (wallet/people/staff.py `cli_actor`): it runs on
the server with the database's credentials. Passwords never come from argv.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from marshmallow import ValidationError

from wallet.people import audit, staff
from wallet.admin.blueprint import engine as _engine
from wallet.admin.blueprint import read
from wallet.admin.cli import _emit, _fail, _print, output_options, wallet_cli
from wallet.admin.schemas import UtcDateTime
from wallet.people.staff import cli_actor
from wallet.admin.staff_api import csv_rows
from wallet.ledger import services
from wallet.ledger.models import ADJUSTMENT_REQUEST_STATUSES
from wallet.ledger.outcomes import AdminError

STAFF_COLUMNS = ("userName", "role", "active", "hasPassword", "lockedUntil", "tokens")
REQUEST_COLUMNS = ("id", "status", "userId", "amount", "currency", "reference", "requestedBy", "requestedAt",
                   "decidedBy", "transactionId")
AUDIT_COLUMNS = ("at", "actor", "role", "action", "target", "reason")


@wallet_cli.group("staff")
def staff_group() -> None:
    """Staff accounts, roles, tokens and passwords."""


def _write(run: Any) -> Any:
    try:
        with _engine().begin() as conn:
            return run(conn)
    except AdminError as exc:
        _fail(exc)


def _password(from_stdin: bool) -> str:
    """A password from a prompt (hidden, asked twice) or the first line of stdin; never argv."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


@staff_group.command("add")
@click.argument("user_name")
@click.argument("role", type=click.Choice(staff.ROLES))
@click.option("--password/--no-password", "with_password", default=False,
              help="Also set a password for the back-office site (prompted twice, or --stdin).")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--reason", help="Why (optional; kept in the audit trail).")
def staff_add(user_name: str, role: str, with_password: bool, from_stdin: bool, reason: str | None) -> None:
    """Create an account; prints its first API token (shown once: keep it now)."""
    password = _password(from_stdin) if with_password or from_stdin else None
    account, token = _write(lambda conn: staff.create_staff(conn, cli_actor(), user_name, role, password, reason))
    _print({"userName": account["userName"], "role": account["role"], "token": token})
    click.echo("the token is shown once: store it now", err=True)


@staff_group.command("list")
@output_options
def staff_list(fmt: str) -> None:
    """Every account (never a hash or a token)."""
    items = read(staff.list_staff)
    rows = [{**i, "tokens": sum(1 for t in i["tokens"] if t["revokedAt"] is None)} for i in items]
    _emit(fmt, {"items": items}, rows, STAFF_COLUMNS)


@staff_group.command("disable")
@click.argument("user_name")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@click.option("--reason", help="Why (optional; kept in the audit trail).")
def staff_disable(user_name: str, enable: bool, reason: str | None) -> None:
    """Disable an account: its tokens answer 401 and its password logs in no more."""
    _print(_write(lambda conn: staff.update_staff(conn, cli_actor(), user_name, active=enable, reason=reason)))


@staff_group.command("role")
@click.argument("user_name")
@click.argument("role", type=click.Choice(staff.ROLES))
@click.option("--reason", help="Why (optional; kept in the audit trail).")
def staff_role(user_name: str, role: str, reason: str | None) -> None:
    """Change an account's role."""
    _print(_write(lambda conn: staff.update_staff(conn, cli_actor(), user_name, role=role, reason=reason)))


@staff_group.command("token")
@click.argument("user_name")
@click.option("--revoke", "revoke_id", type=click.IntRange(1, 2**63 - 1), help="Revoke this token instead.")
@click.option("--reason", help="Why (optional; kept in the audit trail).")
def staff_token(user_name: str, revoke_id: int | None, reason: str | None) -> None:
    """Issue another API token (printed once), or --revoke one by its id."""
    if revoke_id is not None:
        revoked, token = _write(lambda conn: staff.revoke_token(conn, cli_actor(), user_name, revoke_id, reason))
        _print({**token, "revoked": revoked})
        if not revoked:
            click.echo(f"token {revoke_id} was already revoked; nothing changed", err=True)
        return
    token_id, token = _write(lambda conn: staff.issue_token(conn, cli_actor(), user_name, reason))
    _print({"id": token_id, "token": token})
    click.echo("the token is shown once: store it now", err=True)


@staff_group.command("password")
@click.argument("user_name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--reason", help="Why (optional; kept in the audit trail).")
def staff_password(user_name: str, from_stdin: bool, reason: str | None) -> None:
    """Set an account's back-office password (prompted twice, or --stdin); clears a lockout."""
    password = _password(from_stdin)
    _write(lambda conn: staff.set_password(conn, cli_actor(), user_name, password, reason))
    click.echo(f"password of {user_name} set")


# --------------------------------------------------------------------------- four eyes


@wallet_cli.command("adjustments")
@click.option("--status", type=click.Choice(ADJUSTMENT_REQUEST_STATUSES))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, audit.MAX_PAGE))
@click.option("--cursor")
@output_options
def adjustments(status: str | None, limit: int, cursor: str | None, fmt: str) -> None:
    """Adjustments that needed approval (four eyes), newest first."""
    items, next_cursor = read(services.list_adjustment_requests, status, limit, cursor)
    _emit(fmt, {"items": items, "nextCursor": next_cursor}, items, REQUEST_COLUMNS,
          footer=f"next page: --cursor {next_cursor}" if next_cursor else "")


def _decide(request_id: int, approve: bool, reason: str | None) -> None:
    _print(_write(lambda conn: services.decide_adjustment(conn, request_id, approve, actor=cli_actor(),
                                                          reason=reason)))


@wallet_cli.command("adjustment-approve")
@click.argument("request_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--reason", help="Why (optional; the adjustment's own reason is kept).")
def adjustment_approve(request_id: int, reason: str | None) -> None:
    """Approve a pending adjustment (not one's own): it posts now, if the balance allows."""
    _decide(request_id, True, reason)


@wallet_cli.command("adjustment-reject")
@click.argument("request_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--reason", help="Why (optional).")
def adjustment_reject(request_id: int, reason: str | None) -> None:
    """Reject a pending adjustment: it never moves money."""
    _decide(request_id, False, reason)


# --------------------------------------------------------------------------- audit


def _time(raw: str | None, name: str) -> Any:
    if raw is None:
        return None
    try:
        return UtcDateTime().deserialize(raw)
    except ValidationError as exc:
        _fail(ValidationError({name: exc.messages}))


@wallet_cli.command("audit")
@click.option("--actor")
@click.option("--action", help="An action (adjustment.approve) or its family (adjustment).")
@click.option("--target", help="kind:name, e.g. player:123, game:x, staff:alice, round:r-1.")
@click.option("--from", "since", help="ISO 8601, inclusive (UTC when no zone).")
@click.option("--to", "until", help="ISO 8601, exclusive.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, audit.MAX_PAGE))
@click.option("--cursor")
@output_options
def audit_trail(actor: str | None, action: str | None, target: str | None, since: str | None, until: str | None,
                limit: int, cursor: str | None, fmt: str) -> None:
    """The audit trail, newest first (--csv: every match)."""
    f = audit.AuditFilter(actor=actor, action=action, target=target, since=_time(since, "from"),
                          until=_time(until, "to"))
    if fmt == "csv":
        with _engine().connect() as conn:
            _emit(fmt, None, list(csv_rows(audit.iter_entries(conn, f))), audit.COLUMNS)
        return
    items, next_cursor = read(audit.search, f, limit, cursor)
    _emit(fmt, {"items": items, "nextCursor": next_cursor}, items, AUDIT_COLUMNS,
          footer=f"next page: --cursor {next_cursor}" if next_cursor else "")
