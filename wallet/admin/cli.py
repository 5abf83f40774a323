"""`flask --app wsgi wallet ...`: the admin operations on the command line (same functions as the API).

Read commands print a table by default, `--json` for the API's JSON and
`--csv` for spreadsheets. Write commands print the JSON the API answers.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from wallet.admin import export, queries
from wallet.admin.blueprint import engine as _engine
from wallet.admin.blueprint import read
from wallet.admin.schemas import PageQuery, ReportQuery, TransactionQuery
from wallet.jsonutil import dumps
from wallet.ledger import services
from wallet.ledger.outcomes import AdminError
from wallet.money import AmountError, parse_signed_amount

wallet_cli = AppGroup("wallet", help="Operate the wallet: players, adjustments, ledger queries.")

ENTRY_COLUMNS = ("transactionId", "createdAt", "type", "status", "userId", "roundId", "reference",
                 "amount", "balanceAfter", "currency", "refundedBy")
REPORT_COLUMNS = ("day", "currency", "bets.count", "bets.sum", "wins.count", "wins.sum", "refunds.count",
                  "refunds.sum", "adjustments.count", "adjustments.sum", "ggr")


def _print(obj: Any) -> None:
    click.echo(dumps(obj, indent=2))


def _fail(exc: Exception) -> None:
    message = exc.normalized_messages() if isinstance(exc, ValidationError) else exc
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def table(items: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """A plain-text table with aligned columns (money right-aligned)."""
    rows = [[_cell(export.value_at(item, c)) for c in columns] for item in items]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(values: list[str], numeric: list[bool]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    numeric = [any(k in c.lower() for k in ("amount", "balance", "sum", "count", "ggr")) for c in columns]
    out = [line(list(columns), numeric), line(["-" * w for w in widths], numeric)]
    out += [line(r, numeric) for r in rows]
    return "\n".join(out) if rows else "\n".join(out + ["(none)"])


def _fields(obj: dict[str, Any], skip: tuple[str, ...]) -> str:
    return "\n".join(f"{k}: {_cell(v)}" for k, v in obj.items() if k not in skip and not isinstance(v, (list, dict)))


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--table (default), --json, --csv: one `fmt` argument; AdminError and bad input exit 1."""

    @click.option("--json", "fmt", flag_value="json", help="The API's JSON.")
    @click.option("--csv", "fmt", flag_value="csv", help="CSV (money as plain decimals).")
    @click.option("--table", "fmt", flag_value="table", default=True, help="Readable table (default).")
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (AdminError, ValidationError) as exc:
            _fail(exc)

    return wrapper


def _emit(fmt: str, data: Any, items: list[dict[str, Any]], columns: tuple[str, ...] = ENTRY_COLUMNS,
          header: str = "", footer: str = "") -> None:
    if fmt == "json":
        _print(data)
    elif fmt == "csv":
        for chunk in export.csv_lines(items, columns):
            click.echo(chunk, nl=False)
    else:
        click.echo("\n\n".join(part for part in (header, table(items, columns), footer) if part))


# --------------------------------------------------------------------------- writes


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


# --------------------------------------------------------------------------- reads


@wallet_cli.command("player")
@click.argument("user_id")
@output_options
def player(user_id: str, fmt: str) -> None:
    """Show a player's balance, currency and status."""
    found = read(queries.get_player, user_id)
    _emit(fmt, found, [found], ("userId", "currency", "status", "balance", "createdAt"))


@wallet_cli.command("transactions")
@click.option("--user-id")
@click.option("--round-id")
@click.option("--reference")
@click.option("--type", "type_", type=click.Choice(queries.TYPES))
@click.option("--status", type=click.Choice(queries.STATUSES), help="open/settled/refunded (bets), "
              "applied/unmatched (refunds), posted (wins, adjustments).")
@click.option("--from", "since", help="ISO 8601, inclusive (UTC when no zone).")
@click.option("--to", "until", help="ISO 8601, exclusive.")
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
@output_options
def transactions(user_id: str | None, round_id: str | None, reference: str | None, type_: str | None,
                 status: str | None, since: str | None, until: str | None, limit: int, cursor: str | None,
                 fmt: str) -> None:
    """List ledger entries, newest first. --csv exports every match (no paging)."""
    given = {"userId": user_id, "roundId": round_id, "reference": reference, "type": type_, "status": status,
             "from": since, "to": until, "limit": limit, "cursor": cursor}
    values = TransactionQuery().load({k: v for k, v in given.items() if v is not None})
    limit, cursor = values.pop("limit"), values.pop("cursor")
    values.pop("format")
    f = queries.TransactionFilter(**values)
    with _engine().connect() as conn:
        if fmt == "csv":
            _emit(fmt, None, queries.iter_transactions(conn, f), export.COLUMNS)  # type: ignore[arg-type]
            return
        items, next_cursor = queries.list_transactions(conn, f, limit, cursor)
    _emit(fmt, {"items": items, "nextCursor": next_cursor}, items,
          footer=f"next page: --cursor {next_cursor}" if next_cursor else "")


def _entry_with_links(fmt: str, data: Any, items: list[dict[str, Any]]) -> None:
    """An entry (or a reference's entries) followed by what each links to."""
    linked = [e for item in items for e in (*item["reversedBy"], *item["reverses"])]
    _emit(fmt, data, items + linked if fmt == "csv" else items,
          footer="" if fmt == "csv" else "linked entries:\n" + table(linked, ENTRY_COLUMNS))


@wallet_cli.command("transaction")
@click.argument("transaction_id", type=int)
@output_options
def transaction(transaction_id: int, fmt: str) -> None:
    """Show one entry by wallet id, with the bet or refund it links to."""
    item = read(queries.get_transaction, transaction_id)
    _entry_with_links(fmt, item, [item])


@wallet_cli.command("reference")
@click.argument("reference")
@output_options
def reference(reference: str, fmt: str) -> None:
    """Show every entry under a provider reference, with the entries they link to."""
    found = read(queries.get_by_reference, reference)
    _entry_with_links(fmt, found, found["items"])


@wallet_cli.command("round")
@click.argument("round_id")
@click.option("--user-id", help="Whose round, when several players have one with this id.")
@output_options
def round_(round_id: str, user_id: str | None, fmt: str) -> None:
    """Show a round, its status, totals and entries."""
    found = read(queries.get_round, round_id, user_id)
    totals = ", ".join(f"{k} {_cell(v)}" for k, v in found["totals"].items())
    _emit(fmt, found, found["entries"], header=_fields(found, ("totals",)) + f"\ntotals: {totals}")


@wallet_cli.command("history")
@click.argument("user_id")
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
@output_options
def history(user_id: str, limit: int, cursor: str | None, fmt: str) -> None:
    """A player's balance history, newest first."""
    page = PageQuery().load({"limit": limit, **({"cursor": cursor} if cursor else {})})
    found = read(queries.player_history, user_id, page["limit"], page["cursor"])
    _emit(fmt, found, found["items"], header=_fields(found, ("nextCursor",)),
          footer=f"next page: --cursor {found['nextCursor']}" if found["nextCursor"] else "")


@wallet_cli.command("daily-report")
@click.option("--from", "since", required=True, help="First UTC day (YYYY-MM-DD), inclusive.")
@click.option("--to", "until", required=True, help="Last UTC day, inclusive.")
@output_options
def daily_report(since: str, until: str, fmt: str) -> None:
    """Bets, wins, refunds, adjustments and GGR per day and currency."""
    values = ReportQuery().load({"from": since, "to": until})
    report = read(queries.daily_report, values["since"], values["until"])
    rows = report["days"] + [{"day": "total", **row} for row in report["totals"]]
    _emit(fmt, report, rows, REPORT_COLUMNS)


@wallet_cli.command("reconcile")
@output_options
def reconcile(fmt: str) -> None:
    """Check every balance against its entries and every refund against its bets; exit 1 on a mismatch."""
    report = read(queries.reconciliation)
    columns = tuple(dict.fromkeys(k for m in report["mismatches"] for k in m)) or ("kind",)
    _emit(fmt, report, report["mismatches"], columns, header="ledger OK" if report["ok"] else "MISMATCHES FOUND")
    if not report["ok"]:
        sys.exit(1)
