"""`flask --app wsgi wallet ...`: the request log and the rounds on the command line (the same functions
as GET /admin/requests and GET /admin/rounds, wallet/admin/history.py), and the log's retention.

    requests [--user-id U] [--reference R] [--method M] [--error N] [--uuid X] [--from T] [--to T]
    rounds [--status open|settled|ended|cancelled] [--user-id U] [--from T] [--to T]
    prune-requests [--dry-run]     (cron, daily) the day partitions ahead, and the days older than
                                   WALLET_REQUEST_LOG_DAYS dropped whole

Reads print a table, `--json` the API's JSON, `--csv` CSV (every match, no paging).
prune-requests prints a line per partition created or dropped, or that there was nothing to do.
"""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from sqlalchemy import Connection

from wallet.admin import history
from wallet.people import audit
from wallet.admin.blueprint import engine as _engine
from wallet.admin.cli import _emit, output_options, wallet_cli
from wallet.admin.history_schemas import RequestQuery, RoundsQuery
from wallet.people.staff import cli_actor
from wallet.ledger import request_log


def _list(fmt: str, values: dict[str, Any], make_filter: Any, page: Any, rows: Any, columns: tuple[str, ...]) -> None:
    limit, cursor = values.pop("limit"), values.pop("cursor")
    values.pop("format")
    f = make_filter(**values)
    with _engine().connect() as conn:
        if fmt == "csv":
            _emit(fmt, None, rows(conn, f), columns)
            return
        items, next_cursor = page(conn, f, limit, cursor)
    _emit(fmt, {"items": items, "nextCursor": next_cursor}, items, columns,
          footer=f"next page: --cursor {next_cursor}" if next_cursor else "")


def _given(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


@wallet_cli.command("requests")
@click.option("--user-id")
@click.option("--reference")
@click.option("--method", help="Bet, Result, Refund ... (any case).")
@click.option("--error", help="The error code answered (0: success).")
@click.option("--uuid")
@click.option("--from", "since", help="ISO 8601, inclusive (UTC when no zone).")
@click.option("--to", "until", help="ISO 8601, exclusive.")
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
@output_options
def requests(user_id: str | None, reference: str | None, method: str | None, error: str | None, uuid: str | None,
             since: str | None, until: str | None, limit: int, cursor: str | None, fmt: str) -> None:
    """Callbacks the wallet answered, refused ones included, newest first."""
    values = RequestQuery().load(_given(userId=user_id, reference=reference, method=method, error=error, uuid=uuid,
                                        limit=limit, cursor=cursor, **{"from": since, "to": until}))
    _list(fmt, values, history.RequestFilter, history.requests_page, history.iter_requests, history.REQUEST_COLUMNS)


@wallet_cli.command("rounds")
@click.option("--status", type=click.Choice(history.ROUND_STATUSES))
@click.option("--user-id")
@click.option("--from", "since", help="Opened at or after (ISO 8601, UTC when no zone).")
@click.option("--to", "until", help="Opened before (exclusive).")
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
@output_options
def rounds(status: str | None, user_id: str | None, since: str | None, until: str | None, limit: int,
           cursor: str | None, fmt: str) -> None:
    """Rounds, newest first: open (no Result yet), settled, ended, cancelled."""
    values = RoundsQuery().load(_given(status=status, userId=user_id, limit=limit, cursor=cursor,
                                       **{"from": since, "to": until}))
    _list(fmt, values, history.RoundFilter, history.rounds_page, history.iter_rounds, history.ROUND_COLUMNS)


def _audit(conn: Connection, report: request_log.PruneReport) -> None:
    """The staff audit trail records a prune that changed something (as the CLI's actor)."""
    audit.record(conn, cli_actor(), "requests.prune",
                 audit.target("requests", "partitions"), None, None,
                 {"created": report.created, "dropped": report.dropped})


@wallet_cli.command("prune-requests")
@click.option("--dry-run", is_flag=True, help="Say what would be created and dropped; change nothing.")
def prune_requests(dry_run: bool) -> None:
    """Create the request log's day partitions ahead; drop whole days older than WALLET_REQUEST_LOG_DAYS."""
    days = current_app.config["WALLET_SETTINGS"].request_log_days
    report = request_log.prune_requests(_engine(), days, dry_run=dry_run, on_change=_audit)
    for line in report.lines():
        click.echo(line)
