"""`flask --app wsgi wallet ...`: the admin operations on the command line (same functions as the API).

Read commands print a table by default, `--format json` (or `--json`) for the
API's JSON and `--format csv` (`--csv`) for spreadsheets. Write commands print the JSON the API answers.
The provider's calls (CancelRound, GetRoundStatus, CloseSession, HealthCheck)
and the stale-round sweep are at the end; they exit 2 when the provider did
not give the answer asked for (the call is recorded all the same).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select

from wallet.admin import export, queries
from wallet.admin.blueprint import engine as _engine
from wallet.admin.blueprint import read
from wallet.admin.schemas import PageQuery, ReportQuery, TransactionQuery
from wallet.jsonutil import dumps
from wallet.ledger import services
from wallet.ledger.models import players
from wallet.ledger.outcomes import AdminError
from wallet.money import AmountError, parse_signed_amount
from wallet.people.staff import Actor, cli_actor, os_login
from wallet.provider import calls, service, sweeper

wallet_cli = AppGroup("wallet", help="Operate the wallet: players, adjustments, ledger queries.")

ENTRY_COLUMNS = ("transactionId", "createdAt", "type", "status", "userId", "roundId", "reference",
                 "amount", "balanceAfter", "currency", "refundedBy")


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
    """`--format table|json|csv` (every read command has it), or its short forms --table (default),
    --json, --csv: one `fmt` argument; AdminError and bad input exit 1."""

    @click.option("--format", "format_", type=click.Choice(["table", "json", "csv"]), default=None,
                  help="table (default), json (the API's JSON) or csv; --table, --json, --csv say the same.")
    @click.option("--json", "fmt", flag_value="json", help="The API's JSON.")
    @click.option("--csv", "fmt", flag_value="csv", help="CSV (money as plain decimals).")
    @click.option("--table", "fmt", flag_value="table", default=True, help="Readable table (default).")
    @functools.wraps(command)
    def wrapper(*args: Any, format_: str | None = None, **kwargs: Any) -> Any:
        if format_ is not None:
            kwargs["fmt"] = format_
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
@click.option("--reason", help="Why (optional; kept in the audit trail).")
def create_player(user_id: str, currency: str, reason: str | None) -> None:
    """Open a wallet for USER_ID in CURRENCY (ISO 4217)."""
    try:
        with _engine().begin() as conn:
            _print(queries.player_dict(services.create_player(conn, user_id, currency.upper(), actor=cli_actor(),
                                                              reason=reason)))
    except AdminError as exc:
        _fail(exc)
    click.echo(f"player {user_id} opened in {currency.upper()}", err=True)


@wallet_cli.command("adjust")
@click.argument("user_id")
@click.argument("amount")
@click.option("--reference", required=True, help="Unique reference; repeating it is idempotent.")
@click.option("--reason", required=True, help="Why (deposit, withdrawal, correction ...).")
def adjust(user_id: str, amount: str, reference: str, reason: str) -> None:
    """Credit (positive AMOUNT) or debit (negative) a player's wallet. At or above the currency's
    approval threshold it is stored pending until another person approves it (adjustment-approve)."""
    try:
        value: Decimal = parse_signed_amount(amount)
        with _engine().begin() as conn:
            outcome = services.request_adjustment(conn, user_id, value, reference, reason, actor=cli_actor(),
                                                  thresholds=current_app.config["WALLET_SETTINGS"].thresholds)
            if outcome.request is None:
                items, _ = queries.list_transactions(
                    conn, queries.TransactionFilter(reference=reference, type="adjustment"), 1)
        if outcome.request is not None:
            _print(outcome.request)
            click.echo(f"adjustment {reference} is {outcome.request['status']}: another finance or admin person "
                       "approves it" + ("" if outcome.created else " (a repetition: nothing changed)"), err=True)
            return
        _print(items[0])
        if not outcome.created:
            click.echo(f"adjustment {reference} was already posted; nothing changed", err=True)
        else:
            click.echo(f"adjustment {reference} posted: {value:+} to {user_id}", err=True)
    except (AdminError, AmountError) as exc:
        _fail(exc)


@wallet_cli.command("set-status")
@click.argument("user_id")
@click.argument("status", type=click.Choice(["active", "frozen"]))
@click.option("--reason", required=True, help="Why (required; kept in the audit trail).")
def set_status(user_id: str, status: str, reason: str) -> None:
    """Freeze or unfreeze a player."""
    try:
        with _engine().begin() as conn:
            before = conn.execute(select(players.c.status).where(players.c.user_id == user_id)).scalar()
            _print(queries.player_dict(services.set_status(conn, user_id, status, actor=cli_actor(), reason=reason)))
    except AdminError as exc:
        _fail(exc)
    if before == status:
        click.echo(f"player {user_id} was already {status}; nothing changed", err=True)
    else:
        click.echo(f"player {user_id} is now {status} (was {before})", err=True)
    if status == "frozen":  # also at the provider, again on a repetition (a retry): best effort, recorded
        call = calls.close_session_quietly(_engine(), current_app.config["WALLET_SETTINGS"], user_id,
                                           actor=cli_actor(), reason="player frozen")
        said = f"{call['status']} (provider call {call['id']})" if call else "not recorded (see the log)"
        click.echo(f"CloseSession at the provider: {said}", err=True)


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
    _emit(fmt, report, rows, export.REPORT_COLUMNS)


@wallet_cli.command("reconcile")
@output_options
def reconcile(fmt: str) -> None:
    """Check every balance against its entries and every refund against its bets; exit 1 on a mismatch."""
    report = read(queries.reconciliation)
    columns = tuple(dict.fromkeys(k for m in report["mismatches"] for k in m)) or ("kind",)
    _emit(fmt, report, report["mismatches"], columns, header="ledger OK" if report["ok"] else "MISMATCHES FOUND")
    if not report["ok"]:
        sys.exit(1)


# --------------------------------------------------------------------------- the provider (wallet.provider)

STALE_COLUMNS = ("roundId", "userId", "currency", "openBets", "openAmount", "lastEntryAt", "lastCancel.status")
SWEEP_COLUMNS = ("roundId", "userId", "providerStatus", "outcome")
# Outcomes that need someone: the provider could not be asked, or refused or lost a cancel.
SWEEP_TROUBLE = ("unknown-at-provider", "cancel-rejected", "cancel-failed")


def _login() -> str:
    return os_login()


def _settings() -> Any:
    return current_app.config["WALLET_SETTINGS"]


def sweeper_actor(name: str) -> Actor:
    """The stale-round sweeper's actor: `sweeper` (cron), or `sweeper:<name>` (a reserved form, so that
    no staff account's name can be borrowed); it may cancel rounds as an admin may."""
    return Actor("sweeper" if name == "sweeper" else f"sweeper:{name}", "admin", "sweeper", None)


def _print_or_fail(run: Callable[[], Any]) -> Any:
    """Print what `run` returns as JSON; an admin error is printed to stderr and exits 1."""
    try:
        result = run()
    except (AdminError, ValidationError) as exc:
        _fail(exc)
    _print(result)
    return result


@wallet_cli.command("cancel-round")
@click.argument("reference", required=False)
@click.option("--round-id", help="With REFERENCE: refuse unless the bet is in this round. Without: the round "
              "to cancel (with --user-id), by its earliest unrefunded bet.")
@click.option("--user-id", help="Whose round (with --round-id).")
@click.option("--requested-by", help="Who asks, recorded as cli:<name> (default: the login name).")
@click.option("--reason", help="Why (optional).")
def cancel_round(reference: str | None, round_id: str | None, user_id: str | None, requested_by: str | None,
                 reason: str | None) -> None:
    """Ask Lucky Monaco to cancel a round, by bet REFERENCE or by --round-id and --user-id; it refunds the
    stake through the wallet's Refund. Prints the cancel's record; exit 2 unless confirmed."""
    if reference is None and not (round_id and user_id):
        _fail(AdminError("give a bet's REFERENCE, or --round-id and --user-id"))
    record = _print_or_fail(lambda: service.request_cancel(
        _engine(), _settings(), reference, round_id=round_id, user_id=user_id,
        actor=cli_actor(requested_by), reason=reason))
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
        if cancel_id is not None:
            return read(service.get_cancel, cancel_id)
        items, next_cursor = read(lambda conn: service.list_cancels(conn, limit=limit, cursor=cursor,
                                                                    reference=reference))
        return {"items": items, "nextCursor": next_cursor}

    _print_or_fail(run)


@wallet_cli.command("provider-status")
@click.argument("round_id")
@click.option("--user-id", help="Whose round (recorded with the call).")
def provider_status(round_id: str, user_id: str | None) -> None:
    """Ask the provider about a round (GetRoundStatus) and print its answer; exit 2 when it gives no status."""
    outcome = calls.round_status(_engine(), _settings(), round_id, user_id=user_id, requested_by=f"cli {_login()}")
    if outcome.status == "confirmed" and outcome.answer is not None:
        _print(outcome.answer.as_dict())
        return
    _print({"error": "badgateway", "description": outcome.description, "callId": str(outcome.call_id)})
    sys.exit(2)


@wallet_cli.command("close-session")
@click.argument("user_id")
@click.option("--game-id", help="Only the session of this game.")
@click.option("--requested-by", help="Who asks, recorded as cli:<name> (default: the login name).")
@click.option("--reason", help="Why (optional).")
def close_session(user_id: str, game_id: str | None, requested_by: str | None, reason: str | None) -> None:
    """Ask the provider to close a player's game session (CloseSession); exit 2 unless confirmed."""
    record = _print_or_fail(lambda: calls.close_session(
        _engine(), _settings(), user_id, game_id=game_id, actor=cli_actor(requested_by), reason=reason))
    if record["status"] != "confirmed":
        sys.exit(2)


@wallet_cli.command("provider-health")
def provider_health() -> None:
    """HealthCheck the provider: {up, latencyMs, error}; exit 2 when it is not up."""
    if not _print_or_fail(lambda: calls.health(_engine(), _settings(), requested_by=f"cli {_login()}"))["up"]:
        sys.exit(2)


@wallet_cli.command("provider-calls")
@click.argument("call_id", required=False)
@click.option("--kind", type=click.Choice(["CancelRound", "GetRoundStatus", "CloseSession", "HealthCheck"]))
@click.option("--user-id")
@click.option("--round-id")
@click.option("--reference")
@click.option("--status", type=click.Choice(["pending", "confirmed", "rejected", "failed"]))
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
def provider_calls(call_id: str | None, kind: str | None, user_id: str | None, round_id: str | None,
                   reference: str | None, status: str | None, limit: int, cursor: str | None) -> None:
    """Every call made to the provider, newest first; with CALL_ID, one of them with its body and attempts."""

    def run() -> dict[str, Any]:
        if call_id is not None:
            return read(calls.get_call, call_id)
        items, next_cursor = read(lambda conn: calls.list_calls(
            conn, kind=kind, user_id=user_id, round_id=round_id, reference=reference, status=status, limit=limit,
            cursor=cursor))
        return {"items": items, "nextCursor": next_cursor}

    _print_or_fail(run)


@wallet_cli.command("stale-rounds")
@click.option("--older-than-hours", default=24.0, show_default=True, type=float)
@click.option("--user-id")
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
@output_options
def stale_rounds(older_than_hours: float, user_id: str | None, limit: int, cursor: str | None, fmt: str) -> None:
    """Open rounds with an unrefunded bet, no Result and no EndRound, untouched for that long."""
    items, next_cursor = read(lambda conn: sweeper.stale_rounds(conn, older_than_hours, user_id=user_id, limit=limit,
                                                                cursor=cursor))
    _emit(fmt, {"items": items, "nextCursor": next_cursor}, items, STALE_COLUMNS,
          footer=f"next page: --cursor {next_cursor}" if next_cursor else "")


@wallet_cli.command("sweep-rounds")
@click.option("--older-than-hours", default=24.0, show_default=True, type=float,
              help="Rounds whose last entry is older than this.")
@click.option("--dry-run", is_flag=True, help="Ask the provider, send nothing (outcome would-cancel).")
@click.option("--requested-by", default="sweeper", show_default=True,
              help="Who runs it: sweeper (cron), or a name recorded as sweeper:<name>.")
@click.option("--reason", help="Why (optional).")
@click.option("--limit", default=sweeper.SWEEP_LIMIT, show_default=True, help="Rounds at most, oldest first.")
@click.option("--json", "as_json", is_flag=True, help="The API's JSON instead of a table.")
def sweep_rounds(older_than_hours: float, dry_run: bool, requested_by: str, reason: str | None, limit: int,
                 as_json: bool) -> None:
    """Ask the provider about every stale round and cancel those it says are in progress (for cron).

    Exit 0 when done, 2 when some round needs someone (the provider could not be asked, or refused or
    lost a cancel), 1 on bad options.
    """
    try:
        result = sweeper.sweep(_engine(), _settings(), older_than_hours=older_than_hours, dry_run=dry_run,
                               actor=sweeper_actor(requested_by), reason=reason, limit=limit)
    except AdminError as exc:
        _fail(exc)
    items = result["rounds"]
    if as_json:
        _print({"rounds": items})
    else:
        counts: dict[str, int] = {}
        for item in items:
            counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
        what = "dry run: nothing sent" if dry_run else f"{counts.get('cancel-sent', 0) + counts.get('refunded', 0)} " \
            "round(s) cancelled or being cancelled"
        if not items:
            click.echo(f"sweep {result['id']}: no stale round older than {older_than_hours:g} h; nothing to do")
        else:
            click.echo(table(items, SWEEP_COLUMNS))
            click.echo(f"\nsweep {result['id']} ({what}): {len(items)} stale round(s); "
                       + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if any(item["outcome"] in SWEEP_TROUBLE for item in items):
        sys.exit(2)


@wallet_cli.command("sweeps")
@click.argument("sweep_id", required=False)
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor")
def sweeps(sweep_id: str | None, limit: int, cursor: str | None) -> None:
    """The stale-round sweeps run, newest first; with SWEEP_ID, one with what it decided for each round."""

    def run() -> dict[str, Any]:
        if sweep_id is not None:
            return read(sweeper.get_sweep, sweep_id)
        items, next_cursor = read(lambda conn: sweeper.list_sweeps(conn, limit=limit, cursor=cursor))
        return {"items": items, "nextCursor": next_cursor}

    _print_or_fail(run)
