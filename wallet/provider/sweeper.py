"""Stale rounds (docs/protocol.md section 11): find them, ask the provider, cancel the open ones.

A round is stale when it has an unrefunded bet, no Result and no EndRound
(open and not settled) and its last entry is older than a given age: the
player's stake is held by a round that never finished. A sweep asks
GetRoundStatus about each and acts:

    provider says                    action             outcome
    InProgress                       send CancelRound   cancel-sent (refunded once the Refund arrived)
    Completed, CompleteInProcess     nothing            awaiting-result
    Canceled, CancelInProcess        nothing            awaiting-refund
    an error, or no answer           nothing            unknown-at-provider

A dry run asks the same and sends nothing (`would-cancel`). A round whose
cancel was sent (in flight, accepted, or refused by the provider) is never
sent again by a sweep: its outcome stays `cancel-sent` (`cancel-rejected`)
until the Refund arrives. A sweep's CancelRound that got no usable answer
(`cancel-failed`) gives the round back to the next sweep, which asks the
provider again first. Two sweeps at once, on any hosts, never cancel one
round twice: the claim is the call's record, inserted under a unique index
(wallet/provider/service.py).

Each sweep is recorded (`round_sweeps`, one `round_sweep_items` row per
round, the calls it made), and counted in the metrics.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, true, tuple_, update

from config import Settings
from wallet import clock, cursors
from wallet.people import audit
from wallet.people.staff import Actor, require
from wallet.ledger.models import iso, players, reversals, rounds, transactions
from wallet.ledger.outcomes import Invalid, NotFound
from wallet.money import from_minor
from wallet.observability import count_sweep
from wallet.provider import calls, service
from wallet.provider.client import ProviderClient
from wallet.provider.models import provider_calls, round_sweep_items, round_sweeps

log = logging.getLogger("wallet.provider.sweeper")

MAX_PAGE = calls.MAX_PAGE
# Rounds one sweep handles at most (the oldest first); the next run takes the rest.
SWEEP_LIMIT = 500
# After this many GetRoundStatus calls in a row with no answer, the provider is taken as down for the
# rest of the sweep: its other rounds are `unknown-at-provider` without being asked (each silent call
# costs its timeouts and back-off).
SILENT_CALLS_BEFORE_GIVING_UP = 3
# The most hours a sweep or list may look back (larger is refused rather than overflowing a date).
MAX_HOURS = 24 * 366 * 100

OUTCOMES = ("cancel-sent", "refunded", "awaiting-result", "awaiting-refund", "unknown-at-provider",
            "would-cancel", "cancel-rejected", "cancel-failed")
AWAITING = {"Completed": "awaiting-result", "CompleteInProcess": "awaiting-result",
            "Canceled": "awaiting-refund", "CancelInProcess": "awaiting-refund"}


def _cutoff(older_than_hours: float) -> Any:
    if not 0 <= older_than_hours <= MAX_HOURS:
        raise Invalid(f"olderThanHours must be between 0 and {MAX_HOURS}")
    return clock.utcnow() - timedelta(hours=older_than_hours)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode(last: Row[Any]) -> str:
    """The cursor after `last`: its creation time (microseconds since 1970) and id, the list's order."""
    return cursors.encode("round", f"{(last.created_at - _EPOCH) // timedelta(microseconds=1)}|{last.id}")


def _decode(cursor: str) -> tuple[datetime, int]:
    micros, _, pk = cursors.decode("round", cursor).partition("|")
    if not micros.lstrip("-").isdigit():
        raise Invalid("cursor is not valid")
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), cursors.id_of(pk)
    except (ValueError, OverflowError) as exc:
        raise Invalid("cursor is not valid") from exc


def _stale_select(older_than_hours: float, user_id: str | None, after: tuple[datetime, int] | None) -> Any:
    """Stale rounds, oldest round first (creation time, then id), each with its open bets and last
    entry: the open unsettled rounds created before the cut-off come from their partial index by
    creation time (ix_rounds_open_created_at), walked in order from the oldest, so the rounds still
    in play are never read; the rest from each round's entries (round_pk, id)."""
    cutoff = _cutoff(older_than_hours)  # one instant for both tests: a round is stale or not, never half
    last = (select(func.max(transactions.c.created_at).label("last_at"))
            .where(transactions.c.round_pk == rounds.c.id).lateral("last"))
    open_bets = (
        select(func.count().label("n"), func.coalesce(func.sum(-transactions.c.amount), 0).label("total"))
        .select_from(transactions.outerjoin(reversals, reversals.c.bet_id == transactions.c.id))
        .where(transactions.c.round_pk == rounds.c.id, transactions.c.kind == "bet", reversals.c.bet_id.is_(None))
        .lateral("open_bets")
    )
    cancel = (
        select(provider_calls.c.id.label("cancel_id"), provider_calls.c.status.label("cancel_status"))
        .where(provider_calls.c.round_pk == rounds.c.id, provider_calls.c.kind == "CancelRound")
        .order_by(provider_calls.c.id.desc()).limit(1).lateral("cancel")
    )
    stmt = (
        select(rounds.c.id, rounds.c.round_id, rounds.c.game_id, rounds.c.created_at, players.c.user_id,
               players.c.currency, last.c.last_at, open_bets.c.n, open_bets.c.total, cancel.c.cancel_id,
               cancel.c.cancel_status)
        .select_from(
            rounds.join(players, players.c.id == rounds.c.player_id)
            .join(last, true()).join(open_bets, true()).outerjoin(cancel, true())
        )
        # A round created after the cutoff has entries after it too: skipped before its entries
        # are read (open rounds in play outnumber stale ones; bench/run.sh scale).
        .where(rounds.c.status == "open", ~rounds.c.settled, rounds.c.created_at < cutoff,
               open_bets.c.n > 0, last.c.last_at < cutoff)
    )
    if user_id is not None:
        stmt = stmt.where(players.c.user_id == user_id)
    if after is not None:
        stmt = stmt.where(tuple_(rounds.c.created_at, rounds.c.id) > tuple_(*after))
    return stmt.order_by(rounds.c.created_at, rounds.c.id)


def _stale_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "roundId": row.round_id,
        "userId": row.user_id,
        "gameId": row.game_id,
        "currency": row.currency,
        "openBets": row.n,
        "openAmount": from_minor(row.total, row.currency),
        "createdAt": iso(row.created_at),
        "lastEntryAt": iso(row.last_at),
        "lastCancel": None if row.cancel_id is None else {"id": str(row.cancel_id), "status": row.cancel_status},
    }


def stale_rounds(conn: Connection, older_than_hours: float, *, user_id: str | None = None, limit: int = 100,
                 cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of stale rounds, oldest round first. Returns (items, next_cursor)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    after = _decode(cursor) if cursor is not None else None
    rows = conn.execute(_stale_select(older_than_hours, user_id, after).limit(limit + 1)).all()
    next_cursor = _encode(rows[limit - 1]) if len(rows) > limit else None
    return [_stale_dict(r) for r in rows[:limit]], next_cursor


# --------------------------------------------------------------------------- the sweep


def sweep(
    engine: Engine,
    settings: Settings,
    *,
    older_than_hours: float,
    dry_run: bool = False,
    actor: Actor,
    reason: str | None = None,
    limit: int = SWEEP_LIMIT,
    client: ProviderClient | None = None,
    budget: float | None = None,
) -> dict[str, Any]:
    """Sweep the stale rounds (at most `limit`, oldest first) and record it. `budget`: seconds the
    whole sweep may take (the admin API's request waits for it); rounds left when it is spent are
    `unknown-at-provider`, not asked. Returns `{"id", "rounds": [{roundId, userId, providerStatus,
    outcome}, ...]}`. Audited: the sweep (`sweep.run`, with its record) and each CancelRound it sends
    (`sweep.cancel`), each in the transaction that records it."""
    require(actor, "round.cancel")
    requested_by = actor.name
    if not 1 <= limit <= SWEEP_LIMIT:
        raise Invalid(f"limit must be between 1 and {SWEEP_LIMIT}")
    with engine.begin() as conn:
        found = conn.execute(_stale_select(older_than_hours, None, None).limit(limit)).all()
        sweep_id = conn.execute(
            insert(round_sweeps).values(requested_by=requested_by, reason=reason, older_than_hours=older_than_hours,
                                        dry_run=dry_run, rounds_found=len(found), cancels_sent=0,
                                        started_at=clock.utcnow())
            .returning(round_sweeps.c.id)
        ).scalar_one()
        audit.record(conn, actor, "sweep.run", audit.target("sweep", sweep_id), reason, None,
                     {"olderThanHours": older_than_hours, "dryRun": dry_run, "roundsFound": len(found)})
    items: list[dict[str, Any]] = []
    sent = 0
    with calls.provider_client(settings, client) as c:
        deadline = c.clock() + budget if budget is not None else None
        silent = 0
        for row in found:
            ask = silent < SILENT_CALLS_BEFORE_GIVING_UP and (deadline is None or c.clock() < deadline)
            item = _sweep_round(engine, settings, c, row, sweep_id=sweep_id, dry_run=dry_run, ask=ask,
                                actor=actor, reason=reason, deadline=deadline)
            if item["statusCall"] is not None:  # asked: silent again, or heard
                silent = silent + 1 if item["statusCall"] == "failed" else 0
            sent += item["cancelCallId"] is not None
            items.append(item)
    with engine.begin() as conn:
        conn.execute(update(round_sweeps).where(round_sweeps.c.id == sweep_id)
                     .values(cancels_sent=sent, finished_at=clock.utcnow()))
    count_sweep(len(found), sent, (i["outcome"] for i in items))
    log.info("sweep", extra={"fields": {"sweepId": sweep_id, "dryRun": dry_run, "found": len(found), "sent": sent,
                                        "requestedBy": requested_by}})
    return {"id": str(sweep_id),
            "rounds": [{k: i[k] for k in ("roundId", "userId", "providerStatus", "outcome")} for i in items]}


def _sweep_round(engine: Engine, settings: Settings, client: ProviderClient, row: Row[Any], *, sweep_id: int,
                 dry_run: bool, ask: bool, actor: Actor, reason: str | None,
                 deadline: float | None) -> dict[str, Any]:
    """Ask about one stale round, act on the answer, record the item."""
    item: dict[str, Any] = {"roundId": row.round_id, "userId": row.user_id, "providerStatus": None,
                            "outcome": "unknown-at-provider", "statusCall": None, "statusCallId": None,
                            "cancelCallId": None}
    with engine.connect() as conn:
        prior = service.sent_cancel(conn, row.id)
        conn.commit()
    if ask:
        status = calls.round_status(engine, settings, row.round_id, user_id=row.user_id, requested_by=actor.name,
                                    reason=reason, sweep_id=sweep_id, client=client, deadline=deadline)
        item["statusCall"], item["statusCallId"] = status.status, status.call_id
        if status.status == "confirmed" and status.answer is not None:
            item["providerStatus"] = status.answer.round_status
    said = item["providerStatus"]
    if prior is not None:
        item["outcome"] = _after_sent(engine, prior.status, prior.bet_transaction_id)
    elif said in AWAITING:
        item["outcome"] = AWAITING[said]
    elif said == "InProgress":
        item["outcome"] = "would-cancel" if dry_run else _cancel(engine, client, row.id, item, sweep_id=sweep_id,
                                                                 actor=actor, reason=reason, deadline=deadline)
    with engine.begin() as conn:
        conn.execute(insert(round_sweep_items).values(
            sweep_id=sweep_id, round_pk=row.id, round_id=row.round_id, user_id=row.user_id,
            provider_status=said, outcome=item["outcome"], status_call_id=item["statusCallId"],
            cancel_call_id=item["cancelCallId"], created_at=clock.utcnow(),
        ))
    return item


def _after_sent(engine: Engine, status: str, bet_id: int | None) -> str:
    """The outcome of a round whose cancel is already sent: refunded once the Refund has arrived."""
    with engine.connect() as conn:
        if bet_id is not None and service.is_refunded(conn, bet_id):
            return "refunded"
    return "cancel-rejected" if status == "rejected" else "cancel-sent"


def _cancel(engine: Engine, client: ProviderClient, round_pk: int, item: dict[str, Any], *, sweep_id: int,
            actor: Actor, reason: str | None, deadline: float | None) -> str:
    outcome, not_sent = service.cancel_for_sweep(engine, client, round_pk, sweep_id=sweep_id,
                                                 actor=actor, reason=reason, deadline=deadline)
    if outcome is None:  # changed since it was listed, or another sweep claimed it first
        if not_sent == "claimed":
            with engine.connect() as conn:
                prior = service.sent_cancel(conn, round_pk)
                conn.commit()
            return _after_sent(engine, prior.status, prior.bet_transaction_id) if prior else "cancel-sent"
        return "awaiting-result" if not_sent == "settled" else "refunded"
    item["cancelCallId"] = outcome.call_id
    if outcome.status == "failed":
        return "cancel-failed"
    if outcome.status == "rejected":
        return "cancel-rejected"
    with engine.connect() as conn:
        bet_id = conn.execute(select(provider_calls.c.bet_transaction_id)
                              .where(provider_calls.c.id == outcome.call_id)).scalar_one()
    return _after_sent(engine, outcome.status, bet_id)


# --------------------------------------------------------------------------- reads


def _sweep_dict(row: Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "requestedBy": row.requested_by, "reason": row.reason,
            "olderThanHours": row.older_than_hours, "dryRun": row.dry_run, "roundsFound": row.rounds_found,
            "cancelsSent": row.cancels_sent, "startedAt": iso(row.started_at), "finishedAt": iso(row.finished_at)}


def get_sweep(conn: Connection, sweep_id: int | str) -> dict[str, Any]:
    """One sweep with what it decided for each round and the calls it made."""
    pk = calls.db_id(sweep_id, "sweep")
    row = conn.execute(select(round_sweeps).where(round_sweeps.c.id == pk)).first()
    if row is None:
        raise NotFound(f"sweep {sweep_id} not found")
    items = conn.execute(select(round_sweep_items).where(round_sweep_items.c.sweep_id == pk)
                         .order_by(round_sweep_items.c.id)).all()
    return {**_sweep_dict(row), "rounds": [
        {"roundId": i.round_id, "userId": i.user_id, "providerStatus": i.provider_status, "outcome": i.outcome,
         "statusCallId": None if i.status_call_id is None else str(i.status_call_id),
         "cancelCallId": None if i.cancel_call_id is None else str(i.cancel_call_id)}
        for i in items]}


def list_sweeps(conn: Connection, *, limit: int = 100, cursor: str | None = None
                ) -> tuple[list[dict[str, Any]], str | None]:
    """Sweeps, newest first, keyset-paginated on the id. Returns (items, next_cursor)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    stmt = select(round_sweeps)
    if cursor is not None:
        if not cursor.isdigit() or int(cursor) >= 2**63:
            raise Invalid("cursor is not valid")
        stmt = stmt.where(round_sweeps.c.id < int(cursor))
    rows = conn.execute(stmt.order_by(round_sweeps.c.id.desc()).limit(limit + 1)).all()
    return [_sweep_dict(r) for r in rows[:limit]], (str(rows[limit - 1].id) if len(rows) > limit else None)
