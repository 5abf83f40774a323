"""The site's read pages: search, players, rounds, entries, provider calls, lists.

Every page reads through wallet.admin.reads (the read replica when WALLET_READ_DATABASE_URL is set,
else the primary), with the same query functions as the API and the CLI; with a replica the page
says how old its data may be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from flask import g, redirect, render_template, request, url_for
from sqlalchemy import Connection, select
from werkzeug.wrappers.response import Response

from wallet.admin import history, queries, reads
from wallet.people import audit
from wallet.admin.schemas import CURSOR_LENGTH, is_db_id
from wallet.admin.site import bp
from wallet.controls import service as controls
from wallet.jsonutil import text_problem
from wallet.ledger.models import iso, players, rounds, sessions
from wallet.ledger.outcomes import Invalid, NotFound
from wallet.limits import IDENTIFIER_LENGTH
from wallet.provider import calls, sweeper

T = TypeVar("T")

PAGE = 50
SEARCH_KINDS = ("anything", "reference", "player", "round", "transaction", "uuid")


@contextmanager
def reading() -> Iterator[Connection]:
    """A connection for a page's reads; with a replica, g.data_age says how old its data may be."""
    with reads.read_engine().connect() as conn:
        if reads.uses_replica():
            g.data_age = reads.staleness(conn) or 0.0
        yield conn


def read(query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with reading() as conn:
        return query(conn, *args, **kwargs)


def arg(name: str, limit: int = IDENTIFIER_LENGTH) -> str | None:
    """A query parameter the database can hold, or None when absent or empty; 422 otherwise."""
    value = (request.args.get(name) or "").strip() or None
    if value is not None:
        problem = text_problem(value) or (f"has more than {limit} characters" if len(value) > limit else None)
        if problem:
            raise Invalid(f"{name} {problem}")
    return value


def day_arg(name: str) -> date | None:
    value = arg(name, 10)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date, YYYY-MM-DD") from None


# --------------------------------------------------------------------------- search


@bp.get("/")
def search() -> Response | str:
    """One box for anything: a reference, uuid, player, round or transaction id. The result lists every
    kind of record the text names (refused callbacks included), each linked to its page."""
    kind = request.args.get("by") or "anything"
    if kind not in SEARCH_KINDS:
        raise Invalid(f"search by one of {', '.join(SEARCH_KINDS)}")
    q = arg("q")
    if q is None:
        return render_template("support/search.html", kinds=SEARCH_KINDS, by=kind, q="", found=None)
    if kind == "transaction":
        if not is_db_id(q):
            raise NotFound(f"{q} is not a transaction id")
        return redirect(url_for(".transaction", tx_id=int(q)))
    if kind in ("reference", "player", "round"):
        view, name = {"reference": (".reference", "reference"), "player": (".player", "user_id"),
                      "round": (".round_", "round_id")}[kind]
        return redirect(url_for(view, **{name: q}))
    found = read(find, q, kind)
    return render_template("support/search.html", kinds=SEARCH_KINDS, by=kind, q=q, found=found)


def find(conn: Connection, q: str, kind: str) -> dict[str, Any]:
    """Everything `q` may name (kind "uuid": only the callback with that uuid)."""
    found: dict[str, Any] = {"transaction": None, "entries": [], "player": None, "rounds": [], "callbacks": []}
    found["callbacks"] = history.requests_page(conn, history.RequestFilter(uuid=q), PAGE)[0]
    if kind == "uuid":
        return found
    if is_db_id(q):
        found["transaction"] = _maybe(queries.get_transaction, conn, int(q))
    by_reference = _maybe(queries.get_by_reference, conn, q)
    found["entries"] = by_reference["items"] if by_reference else []
    found["player"] = _maybe(queries.get_player, conn, q)
    found["rounds"] = round_owners(conn, q)
    found["callbacks"] += history.requests_page(conn, history.RequestFilter(reference=q), PAGE)[0]
    return found


def _maybe(query: Callable[..., T], *args: Any) -> T | None:
    try:
        return query(*args)
    except NotFound:
        return None


# --------------------------------------------------------------------------- players


@bp.get("/players/<user_id>")
def player(user_id: str) -> str:
    """The player: balance, status, limits and self-exclusion, sessions, history, and the audit trail
    of what staff did to it."""
    cursor = arg("cursor", CURSOR_LENGTH)
    with reading() as conn:
        history = queries.player_history(conn, user_id, PAGE, cursor)
        player_sessions = recent_sessions(conn, user_id)
        trail = audit.for_target(conn, audit.target("player", user_id), PAGE)
    return render_template("support/player.html", player=history, limit_names=controls.LIMITS,
                           sessions=player_sessions, audit=trail)


def recent_sessions(conn: Connection, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(sessions).where(sessions.c.player_id == select(players.c.id).where(players.c.user_id == user_id)
                               .scalar_subquery()).order_by(sessions.c.id.desc()).limit(limit)
    ).all()
    return [{"sessionId": r.session_id, "createdAt": iso(r.created_at), "firstBetAt": iso(r.first_bet_at),
             "expiredAt": iso(r.expired_at)} for r in rows]


# --------------------------------------------------------------------------- rounds


def round_owners(conn: Connection, round_id: str) -> list[dict[str, Any]]:
    """Every player's round under `round_id` (rounds are per player: a roundId may be shared)."""
    rows = conn.execute(
        select(rounds.c.round_id, rounds.c.status, rounds.c.has_result, rounds.c.game_id, rounds.c.created_at,
               players.c.user_id)
        .select_from(rounds.join(players, players.c.id == rounds.c.player_id))
        .where(rounds.c.round_id == round_id).order_by(rounds.c.id).limit(queries.MAX_PAGE)
    ).all()
    return [{"roundId": r.round_id, "userId": r.user_id, "status": history.round_status(r.status, r.has_result),
             "gameId": r.game_id, "createdAt": iso(r.created_at)} for r in rows]


@bp.get("/rounds/<round_id>")
def round_(round_id: str) -> str:
    """A round as a timeline: its entries and the calls made to the provider about it, in time order.
    A roundId several players share lists their rounds instead (each a link)."""
    user_id = arg("userId")
    with reading() as conn:
        owners = round_owners(conn, round_id)
        if user_id is not None:
            owners = [o for o in owners if o["userId"] == user_id]
        if not owners:
            raise NotFound(f"round {round_id} not found" + (f" for player {user_id}" if user_id else ""))
        if len(owners) > 1:
            return render_template("support/round_shared.html", round_id=round_id, owners=owners)
        found = queries.get_round(conn, round_id, owners[0]["userId"])
        provider_calls, _ = calls.list_calls(conn, round_id=round_id, user_id=owners[0]["userId"], limit=100)
    return render_template("support/round.html", round=found, timeline=timeline(found, provider_calls),
                           calls=provider_calls)


def timeline(found: dict[str, Any], provider_calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The round's entries and provider calls as one list, oldest first."""
    events = [{"at": e["createdAt"], "what": "entry", "entry": e} for e in found["entries"]]
    events += [{"at": c["createdAt"], "what": "call", "call": c} for c in provider_calls]
    return sorted(events, key=lambda ev: (ev["at"] or "", 0 if ev["what"] == "entry" else 1))


@bp.get("/rounds")
def rounds_list() -> str:
    """Rounds by status, player and the days they opened (UTC), newest first."""
    status = arg("status", 16)
    user_id, since, until = arg("userId"), day_arg("from"), day_arg("to")
    f = history.RoundFilter(status=status, user_id=user_id, since=day_start(since),
                            until=day_start(until + timedelta(days=1)) if until else None)
    items, next_cursor = read(history.rounds_page, f, PAGE, arg("cursor", CURSOR_LENGTH))
    return render_template("support/rounds.html", rounds=items, older=older(next_cursor),
                           statuses=history.ROUND_STATUSES, status=status, user_id=user_id, since=since, until=until)


def older(next_cursor: str | None) -> str | None:
    """The link to the next page: this page's query with the next cursor; None on the last page."""
    if next_cursor is None:
        return None
    args = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return url_for(request.endpoint or "", **(request.view_args or {}), **args, cursor=next_cursor)


def day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day else None


@bp.get("/stale-rounds")
def stale_rounds() -> str:
    """Rounds left open: an unrefunded bet, no Result, no EndRound, nothing for `olderThanHours`."""
    hours = arg("olderThanHours", 12) or "24"
    try:
        older_than = float(hours)
    except ValueError:
        raise Invalid("olderThanHours must be a number of hours") from None
    if not 0 <= older_than <= sweeper.MAX_HOURS:
        raise Invalid(f"olderThanHours must be between 0 and {sweeper.MAX_HOURS:g}")
    cursor = arg("cursor", CURSOR_LENGTH)
    items, next_cursor = read(lambda conn: sweeper.stale_rounds(conn, older_than, limit=100, cursor=cursor))
    return render_template("support/stale_rounds.html", rounds=items, hours=hours, next_cursor=next_cursor)


# --------------------------------------------------------------------------- entries and calls


@bp.get("/references/<path:reference>")
def reference(reference: str) -> str:
    with reading() as conn:
        found = _maybe(queries.get_by_reference, conn, reference)
        logged = history.requests_page(conn, history.RequestFilter(reference=reference), PAGE)[0]
    if found is None and not logged:
        raise NotFound(f"no transaction and no callback with reference {reference}")
    return render_template("support/entries.html", title=f"Reference {reference}",
                           items=found["items"] if found else [], callbacks=logged)


@bp.get("/transactions/<int:tx_id>")
def transaction(tx_id: int) -> str:
    item = read(queries.get_transaction, tx_id)
    return render_template("support/entries.html", title=f"Transaction {tx_id}", items=[item], callbacks=[])


@bp.get("/provider-calls/<call_id>")
def provider_call(call_id: str) -> str:
    """One call to the provider: what was sent (as fields), every attempt, the final answer."""
    if not is_db_id(call_id):
        raise NotFound(f"provider call {call_id} not found")
    return render_template("support/provider_call.html", call=read(calls.get_call, call_id))


@bp.get("/games")
def games() -> str:
    return render_template("support/games.html", games=read(controls.list_games))


@bp.get("/callbacks")
def callbacks() -> str:
    """The request log: every callback the wallet answered, refused ones included (what happened to a
    reference when no money moved)."""
    error = arg("error", 6)
    if error is not None and not (error.isascii() and error.lstrip("-").isdigit()):
        raise Invalid("error must be a number (0 is success)")
    method = arg("method", 32)
    since, until = day_arg("from"), day_arg("to")
    f = history.RequestFilter(user_id=arg("userId"), reference=arg("reference"), uuid=arg("uuid"),
                              method=method.lower() if method else None,
                              error=int(error) if error is not None else None, since=day_start(since),
                              until=day_start(until + timedelta(days=1)) if until else None)
    items, next_cursor = read(history.requests_page, f, PAGE, arg("cursor", CURSOR_LENGTH))
    return render_template("support/callbacks.html", items=items, older=older(next_cursor), f=f, error=error,
                           since=since, until=until)


@bp.get("/audit")
def audit_trail() -> str:
    """The audit trail, newest first, filtered by person, action, target and days."""
    filters = {"actor": arg("actor"), "action": arg("action", 64), "target": arg("target")}
    since, until = day_arg("from"), day_arg("to")
    cursor = arg("cursor", CURSOR_LENGTH)
    f = audit.AuditFilter(since=day_start(since), until=day_start(until + timedelta(days=1)) if until else None,
                          **filters)
    items, next_cursor = read(audit.search, f, PAGE, cursor)
    return render_template("support/audit.html", items=items, older=older(next_cursor), filters=filters,
                           since=since, until=until)
