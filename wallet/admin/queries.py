"""Read-only ledger queries for operator staff. The admin API, the CLI and the support page all call these.

Every listing is newest first by transaction id and keyset-paginated on it:
the id is the ledger's own order (a player's `balance_after` chains along it),
it is unique, and walking an index on `(filter column, id)` backwards gives a
page without sorting or counting the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, func, not_, select

from wallet import cursors
from wallet.controls.service import limits_view
from wallet.ledger.models import iso, players, reversals, rounds, transactions
from wallet.provider.service import MAX_PAGE as CANCEL_PAGE
from wallet.provider.service import list_cancels
from wallet.ledger.outcomes import Conflict, Invalid, NotFound
from wallet.money import from_minor

MAX_PAGE = 1000
MAX_REPORT_DAYS = 366
TYPES = ("bet", "win", "refund", "cancel", "promo", "jackpot", "bonus", "adjustment")
REVERSAL_KINDS = ("refund", "cancel")
# A status names what became of an entry, and belongs to these types.
STATUS_TYPES: dict[str, tuple[str, ...]] = {
    "open": ("bet",),        # not refunded, round neither has a result nor ended: still refundable
    "settled": ("bet",),     # not refunded, round has a result or ended
    "refunded": ("bet",),    # reversed by a refund or cancel entry
    "applied": REVERSAL_KINDS,    # reversed one or more bets
    "unmatched": REVERSAL_KINDS,  # a reversal without a bet: recorded, nothing moved
    "posted": ("win", "promo", "jackpot", "bonus", "adjustment"),
}
STATUSES = tuple(STATUS_TYPES)
# Wins outside a round's Result (PromoWin, JackpotWin, BonusWin, a Result's promo win): money no bet paid for.
PRIZE_KINDS = ("promo", "jackpot", "bonus")




def player_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "userId": row.user_id,
        "currency": row.currency,
        "status": row.status,
        "balance": from_minor(row.balance, row.currency),
        "createdAt": iso(row.created_at),
    }


def get_player(conn: Connection, user_id: str) -> dict[str, Any]:
    """The player, with the self-exclusion and the limits (as GET /admin/players/<userId>/limits)."""
    row = conn.execute(select(players).where(players.c.user_id == user_id)).first()
    if row is None:
        raise NotFound(f"player {user_id} not found")
    return {**player_dict(row), "excludedUntil": iso(row.excluded_until), "limits": limits_view(conn, row)}


# --------------------------------------------------------------------------- cursors


def encode_cursor(last_id: int) -> str:
    """The ledger lists' cursor (wallet/cursors.py): today the last id seen."""
    return cursors.encode("tx", last_id)


def decode_cursor(cursor: str) -> int:
    return cursors.decode_id("tx", cursor)


# --------------------------------------------------------------------------- transactions

def _probe(column: Any, *where: Any) -> Any:
    """A correlated scalar subquery: one index probe per listed row. Joins would let PostgreSQL
    hash whole tables (players, rounds, reversals) for a page of 100 rows."""
    return select(column).where(*where).limit(1).scalar_subquery()


_refunded_by = _probe(reversals.c.refund_id, reversals.c.bet_id == transactions.c.id)
_applied = _probe(reversals.c.bet_id, reversals.c.refund_id == transactions.c.id).is_not(None)
_settled_round = _probe(
    rounds.c.id, rounds.c.id == transactions.c.round_pk, rounds.c.settled.is_(True)
).is_not(None)


def _transaction_select() -> Select[Any]:
    """Transactions with owner, round, the refund that reversed a bet, and whether a refund reversed any.

    One scan of `transactions` (by the filter's index, newest first); everything
    else is probed by primary key or index for the rows of the page only.
    """
    return select(
        transactions,
        _probe(players.c.user_id, players.c.id == transactions.c.player_id).label("user_id"),
        _probe(rounds.c.round_id, rounds.c.id == transactions.c.round_pk).label("round_id"),
        _probe(rounds.c.status, rounds.c.id == transactions.c.round_pk).label("round_status"),
        _probe(rounds.c.settled, rounds.c.id == transactions.c.round_pk).label("settled"),
        _refunded_by.label("refunded_by"),
        _applied.label("applied"),
    )


def status_of(row: Row[Any]) -> str:
    """The entry's status (see STATUS_TYPES), from the columns of _transaction_select()."""
    if row.kind == "bet":
        if row.refunded_by is not None:
            return "refunded"
        return "settled" if row.settled else "open"
    if row.kind in REVERSAL_KINDS:
        return "applied" if row.applied else "unmatched"
    return "posted"


def _status_condition(status: str) -> Any:
    return {
        "open": and_(transactions.c.kind == "bet", _refunded_by.is_(None), not_(_settled_round)),
        "settled": and_(transactions.c.kind == "bet", _refunded_by.is_(None), _settled_round),
        # Driven by the reversals' key, not by probing every bet: refunded bets are a small share
        # of a large ledger, and a page of them must not scan it (bench/run.sh, 10M rows).
        "refunded": and_(transactions.c.kind == "bet", transactions.c.id.in_(select(reversals.c.bet_id))),
        "applied": and_(transactions.c.kind.in_(REVERSAL_KINDS), _applied),
        "unmatched": and_(transactions.c.kind.in_(REVERSAL_KINDS), not_(_applied)),
        "posted": transactions.c.kind.in_(STATUS_TYPES["posted"]),
    }[status]


def recorded_not_credited(kind: str, amount: int) -> bool:
    """A BonusWin recorded for 0.00 with its announced amount beside it (WALLET_BONUS_WIN=record)."""
    return kind == "bonus" and amount == 0


def transaction_dict(row: Row[Any]) -> dict[str, Any]:
    """An entry as staff see it. Every kind has every key; the prize fields are null where they do not
    apply: `campaignId`/`campaignType` (promo), `jackpotId` (jackpot), `bonusCode` (bonus, and a bet or
    win that carried one), `announcedAmount` (the amount a prize announced: promo, jackpot, bonus)."""
    announced = row.announced_amount
    return {
        "transactionId": str(row.id),
        "type": row.kind,
        "status": status_of(row),
        "reference": row.reference,
        "userId": row.user_id,
        "roundId": row.round_id,
        "amount": from_minor(row.amount, row.currency),
        "balanceAfter": from_minor(row.balance_after, row.currency),
        "currency": row.currency,
        "refundedBy": str(row.refunded_by) if row.refunded_by is not None else None,
        "sessionId": row.session_id,
        "gameId": row.game_id,
        "gameName": row.game_name,
        "uuid": row.request_uuid,
        "note": row.note,
        "createdAt": iso(row.created_at),
        "campaignId": row.campaign_id,
        "campaignType": row.campaign_type,
        "jackpotId": row.jackpot_id,
        "bonusCode": row.bonus_code,
        "announcedAmount": from_minor(announced, row.currency) if announced is not None else None,
        "recordedNotCredited": recorded_not_credited(row.kind, row.amount),
    }


@dataclass(frozen=True)
class TransactionFilter:
    """What GET /admin/transactions may filter on; `until` is exclusive."""

    user_id: str | None = None
    round_id: str | None = None
    reference: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None


def _conditions(f: TransactionFilter) -> list[Any]:
    """SQL conditions for `f`. Player and round are resolved to their keys first, so the
    (player_id, id) and (round_pk, id) indexes serve the page."""
    if f.type is not None and f.type not in TYPES:
        raise Invalid(f"type must be one of {', '.join(TYPES)}")
    if f.status is not None:
        if f.status not in STATUS_TYPES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}")
        if f.type is not None and f.type not in STATUS_TYPES[f.status]:
            raise Invalid(f"status {f.status} does not apply to type {f.type}")
    conditions: list[Any] = []
    if f.user_id is not None:
        player_pk = select(players.c.id).where(players.c.user_id == f.user_id).scalar_subquery()
        conditions.append(transactions.c.player_id == player_pk)
    if f.round_id is not None:
        # Rounds are per player: the same roundId may name a round of several players.
        conditions.append(transactions.c.round_pk.in_(select(rounds.c.id).where(rounds.c.round_id == f.round_id)))
    if f.reference is not None:
        conditions.append(transactions.c.reference == f.reference)
    if f.type is not None:
        conditions.append(transactions.c.kind == f.type)
    if f.status is not None:
        conditions.append(_status_condition(f.status))
    if f.since is not None:
        conditions.append(transactions.c.created_at >= f.since.astimezone(UTC))
    if f.until is not None:
        conditions.append(transactions.c.created_at < f.until.astimezone(UTC))
    return conditions


def transactions_query(f: TransactionFilter, after_id: int | None = None) -> Select[Any]:
    """The newest-first listing for `f`, continuing below `after_id`; exposed for EXPLAIN tests."""
    conditions = _conditions(f)
    if after_id is not None:
        conditions.append(transactions.c.id < after_id)
    return _transaction_select().where(and_(True, *conditions)).order_by(transactions.c.id.desc())


def list_transactions(
    conn: Connection, f: TransactionFilter, limit: int = 100, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page, newest first. Returns (items, next_cursor); next_cursor is None on the last page.

    Rows inserted while a client pages get larger ids than its first page and
    never shift later pages: no entry is skipped or shown twice.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    after_id = decode_cursor(cursor) if cursor is not None else None
    rows = conn.execute(transactions_query(f, after_id).limit(limit + 1)).all()
    items = [transaction_dict(r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return items, next_cursor


def iter_transactions(conn: Connection, f: TransactionFilter, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every matching entry, newest first, from one server-side cursor (PostgreSQL) so that an
    export of millions of rows holds `batch` rows in memory and reads one consistent snapshot.

    The filter is checked (Invalid raised) now, before the caller starts streaming.
    """
    query = transactions_query(f)

    def rows() -> Iterator[dict[str, Any]]:
        for row in conn.execute(query, execution_options={"stream_results": True, "yield_per": batch}):
            yield transaction_dict(row)

    return rows()


def _detail(conn: Connection, row: Row[Any]) -> dict[str, Any]:
    """An entry with the entries it links: a bet's refund or cancel, a refund's or cancel's reversed bets."""
    item = transaction_dict(row)
    item["reversedBy"] = (
        [transaction_dict(r) for r in conn.execute(_transaction_select().where(transactions.c.id == row.refunded_by))]
        if row.refunded_by is not None else []
    )
    reversed_bets = select(reversals.c.bet_id).where(reversals.c.refund_id == row.id)
    item["reverses"] = [
        transaction_dict(r)
        for r in conn.execute(
            _transaction_select().where(transactions.c.id.in_(reversed_bets)).order_by(transactions.c.id)
        )
    ] if row.kind in REVERSAL_KINDS else []
    return item


def get_transaction(conn: Connection, tx_id: int) -> dict[str, Any]:
    row = conn.execute(_transaction_select().where(transactions.c.id == tx_id)).first()
    if row is None:
        raise NotFound(f"transaction {tx_id} not found")
    return _detail(conn, row)


def get_by_reference(conn: Connection, reference: str) -> dict[str, Any]:
    """All entries recorded under a provider reference (a bet and the refund or cancel that names it
    share one)."""
    rows = conn.execute(
        _transaction_select().where(transactions.c.reference == reference).order_by(transactions.c.id)
    ).all()
    if not rows:
        raise NotFound(f"no transaction with reference {reference}")
    return {"reference": reference, "items": [_detail(conn, r) for r in rows]}


# --------------------------------------------------------------------------- rounds and players


def cancel_requests_for_round(conn: Connection, round_id: str, user_id: str) -> list[dict[str, Any]]:
    """The operator's CancelRound requests for this player's round, newest first (the last page is plenty)."""
    return list_cancels(conn, round_id=round_id, user_id=user_id, limit=CANCEL_PAGE)[0]


def get_round(conn: Connection, round_id: str, user_id: str | None = None) -> dict[str, Any]:
    """A round, its status, its entries grouped by type, and their totals in the player's currency.

    Groups: bets, results (wins), refunds, cancels, and prizes: the promo entries of the round's Results
    (promoWinAmount) and its JackpotWins, which are linked to the round (a PromoWin is tied to no round).
    Totals are magnitudes per group plus the player's signed `net` over every entry.

    Rounds belong to one player; when players share a roundId, `user_id` says
    whose (without it that is a 409 naming them).
    """
    stmt = (
        select(rounds, players.c.user_id, players.c.currency)
        .select_from(rounds.join(players, players.c.id == rounds.c.player_id))
        .where(rounds.c.round_id == round_id)
    )
    if user_id is not None:
        stmt = stmt.where(players.c.user_id == user_id)
    found = conn.execute(stmt.order_by(rounds.c.id).limit(MAX_PAGE)).all()
    if not found:
        raise NotFound(f"round {round_id} not found")
    if len(found) > 1:
        owners = ", ".join(r.user_id for r in found)
        raise Conflict(f"round {round_id} exists for several players ({owners}): give userId")
    row = found[0]
    in_round = _transaction_select().where(transactions.c.round_pk == row.id).order_by(transactions.c.id)
    entries = [transaction_dict(e) for e in conn.execute(in_round)]
    zero = from_minor(0, row.currency)

    def of(*kinds: str) -> list[dict[str, Any]]:
        return [e for e in entries if e["type"] in kinds]

    def total(*kinds: str) -> Decimal:
        return sum((abs(e["amount"]) for e in of(*kinds)), zero)

    return {
        "roundId": row.round_id,
        "userId": row.user_id,
        "gameId": row.game_id,
        "currency": row.currency,
        "status": row.status,
        "hasResult": bool(row.has_result),
        "createdAt": iso(row.created_at),
        "totals": {"bets": total("bet"), "wins": total("win"), "refunds": total("refund"),
                   "cancels": total("cancel"), "prizes": total(*PRIZE_KINDS),
                   "net": sum((e["amount"] for e in entries), zero)},
        "bets": of("bet"),
        "results": of("win"),
        "refunds": of("refund"),
        "cancels": of("cancel"),
        "prizes": of(*PRIZE_KINDS),
        "entries": entries,
        "cancelRequests": cancel_requests_for_round(conn, row.round_id, row.user_id),
    }


def player_history(conn: Connection, user_id: str, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    """The player's entries newest first, each with the balance after it; paginated like the listing."""
    player = get_player(conn, user_id)
    items, next_cursor = list_transactions(conn, TransactionFilter(user_id=user_id), limit, cursor)
    return {**player, "items": items, "nextCursor": next_cursor}


# --------------------------------------------------------------------------- reports


def _day(conn: Connection) -> Any:
    """The UTC calendar day of an entry, as text 'YYYY-MM-DD'."""
    return func.to_char(func.timezone("UTC", transactions.c.created_at), "YYYY-MM-DD")


def daily_report(conn: Connection, first: date, last: date) -> dict[str, Any]:
    """Counts and exact sums per UTC day and currency; `first` and `last` are both included.

    Sums are positive magnitudes (bets as staked) except adjustments, which keep
    their sign. GGR = bets - wins - refunds - cancels: what the games kept. The
    prizes (promo, jackpot, bonus: money no bet paid for) are columns beside it,
    never inside it; a bonus win recorded and not credited counts 0 in `sum`, and
    its announced amount is in `bonus.announced`.
    """
    if last < first:
        raise Invalid("to must not be before from")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise Invalid(f"a report covers at most {MAX_REPORT_DAYS} days")
    day = _day(conn).label("day")
    period = [transactions.c.created_at >= datetime.combine(first, time(), UTC)]
    if last < date.max:  # the calendar's last day has no next day to stop before
        period.append(transactions.c.created_at < datetime.combine(last + timedelta(days=1), time(), UTC))
    not_credited = and_(transactions.c.kind == "bonus", transactions.c.amount == 0)
    rows = conn.execute(
        select(day, transactions.c.currency, transactions.c.kind,
               func.count().label("n"), func.sum(transactions.c.amount).label("total"),
               func.coalesce(func.sum(transactions.c.announced_amount), 0).label("announced"),
               func.count().filter(not_credited).label("not_credited"))
        .where(*period)
        .group_by(day, transactions.c.currency, transactions.c.kind)
        .order_by(day, transactions.c.currency)
    ).all()
    buckets: dict[tuple[str, str], dict[str, list[int]]] = {}
    for r in rows:
        counts = buckets.setdefault((r.day, r.currency), _no_counts())
        counts[r.kind] = [int(r.n), int(r.total), int(r.announced), int(r.not_credited)]
    days = [_report_row(day_, currency, counts) for (day_, currency), counts in buckets.items()]
    totals: dict[str, dict[str, list[int]]] = {}
    for (_, currency), counts in buckets.items():
        into = totals.setdefault(currency, _no_counts())
        for kind, figures in counts.items():
            into[kind] = [a + b for a, b in zip(into[kind], figures)]
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": days,
        "totals": [_report_row(None, c, counts) for c, counts in sorted(totals.items())],
    }


def _no_counts() -> dict[str, list[int]]:
    """Per kind: [entries, sum of amounts, sum of announced amounts, bonus wins not credited], minor units."""
    return {k: [0, 0, 0, 0] for k in TYPES}


def _report_row(day: str | None, currency: str, counts: dict[str, list[int]]) -> dict[str, Any]:
    bets, wins, refunds, cancels = -counts["bet"][1], counts["win"][1], counts["refund"][1], counts["cancel"][1]

    def pair(kind: str, minor: int | None = None) -> dict[str, Any]:
        return {"count": counts[kind][0], "sum": from_minor(counts[kind][1] if minor is None else minor, currency)}

    _, _, announced, not_credited = counts["bonus"]
    row: dict[str, Any] = {"day": day} if day is not None else {}
    return {
        **row,
        "currency": currency,
        "bets": pair("bet", bets),
        "wins": pair("win"),
        "refunds": pair("refund"),
        "cancels": pair("cancel"),
        "promo": pair("promo"),
        "jackpot": pair("jackpot"),
        "bonus": {**pair("bonus"), "announced": from_minor(announced, currency), "recordedNotCredited": not_credited},
        "adjustments": pair("adjustment"),
        "ggr": from_minor(bets - wins - refunds - cancels, currency),
    }


# --------------------------------------------------------------------------- reconciliation


def reconciliation(conn: Connection) -> dict[str, Any]:
    """Check the ledger's invariants; each mismatch is named so that staff can act on it.

    * every player's balance equals the sum of that player's entries, and the
      last entry's balance_after;
    * every reversal nets its bet to zero, and links a bet to a refund;
    * no bet is reversed twice (the reversals key forbids it; this catches a
      schema that lost the key);
    * every refund's (or cancel's) amount equals the sum of the bets it reversed.

    BonusWins recorded and not credited are not mismatches: listed apart (bonus_wins_recorded).
    """
    mismatches: list[dict[str, Any]] = []
    sums = (
        select(transactions.c.player_id, func.coalesce(func.sum(transactions.c.amount), 0).label("total"))
        .group_by(transactions.c.player_id)
        .subquery()
    )
    for row in conn.execute(
        select(players.c.user_id, players.c.currency, players.c.balance, func.coalesce(sums.c.total, 0).label("total"))
        .select_from(players.outerjoin(sums, sums.c.player_id == players.c.id))
        .where(players.c.balance != func.coalesce(sums.c.total, 0))
    ):
        mismatches.append({
            "kind": "balance_differs_from_entries",
            "userId": row.user_id,
            "balance": from_minor(row.balance, row.currency),
            "sumOfEntries": from_minor(int(row.total), row.currency),
        })

    last = (
        select(transactions.c.player_id, func.max(transactions.c.id).label("last_id"))
        .group_by(transactions.c.player_id)
        .subquery()
    )
    for row in conn.execute(
        select(players.c.user_id, players.c.currency, players.c.balance, transactions.c.id, transactions.c.balance_after)
        .select_from(
            players.join(last, last.c.player_id == players.c.id).join(transactions, transactions.c.id == last.c.last_id)
        )
        .where(transactions.c.balance_after != players.c.balance)
    ):
        mismatches.append({
            "kind": "balance_differs_from_last_entry",
            "userId": row.user_id,
            "transactionId": str(row.id),
            "balance": from_minor(row.balance, row.currency),
            "balanceAfter": from_minor(row.balance_after, row.currency),
        })

    bet, refund = transactions.alias("bet"), transactions.alias("refund")
    for row in conn.execute(
        select(reversals.c.bet_id, reversals.c.refund_id, reversals.c.amount, bet.c.kind, bet.c.amount.label("bet_amount"),
               bet.c.reference, bet.c.currency, refund.c.kind.label("refund_kind"))
        .select_from(
            reversals.join(bet, bet.c.id == reversals.c.bet_id).join(refund, refund.c.id == reversals.c.refund_id)
        )
        .where((bet.c.amount + reversals.c.amount != 0) | (bet.c.kind != "bet")
               | refund.c.kind.not_in(REVERSAL_KINDS))
    ):
        mismatches.append({
            "kind": "refund_does_not_net_bet",
            "reference": row.reference,
            "betTransactionId": str(row.bet_id),
            "refundTransactionId": str(row.refund_id),
            "betAmount": from_minor(row.bet_amount, row.currency),
            "refunded": from_minor(row.amount, row.currency),
        })

    for row in conn.execute(
        select(reversals.c.bet_id, bet.c.reference, func.count().label("times"))
        .select_from(reversals.join(bet, bet.c.id == reversals.c.bet_id))
        .group_by(reversals.c.bet_id, bet.c.reference)
        .having(func.count() > 1)
    ):
        mismatches.append({
            "kind": "bet_reversed_twice",
            "reference": row.reference,
            "betTransactionId": str(row.bet_id),
            "reversals": int(row.times),
        })

    linked = (
        select(reversals.c.refund_id, func.sum(reversals.c.amount).label("total"))
        .group_by(reversals.c.refund_id)
        .subquery()
    )
    for row in conn.execute(
        select(transactions.c.id, transactions.c.reference, transactions.c.amount, transactions.c.currency,
               func.coalesce(linked.c.total, 0).label("total"))
        .select_from(transactions.outerjoin(linked, linked.c.refund_id == transactions.c.id))
        .where(transactions.c.kind.in_(REVERSAL_KINDS), transactions.c.amount != func.coalesce(linked.c.total, 0))
    ):
        mismatches.append({
            "kind": "refund_amount_differs_from_bets",
            "reference": row.reference,
            "refundTransactionId": str(row.id),
            "amount": from_minor(row.amount, row.currency),
            "sumOfReversedBets": from_minor(int(row.total), row.currency),
        })
    return {"ok": not mismatches, "mismatches": mismatches, "bonusWinsRecorded": bonus_wins_recorded(conn)}


def bonus_wins_recorded(conn: Connection) -> list[dict[str, Any]]:
    """BonusWins recorded for 0.00 and not credited (WALLET_BONUS_WIN=record): not mismatches (the
    provider pays free-round wins through Result), listed apart for staff to see what was announced."""
    rows = conn.execute(
        select(transactions.c.id, transactions.c.reference, transactions.c.bonus_code, transactions.c.currency,
               transactions.c.announced_amount, transactions.c.created_at, players.c.user_id)
        .select_from(transactions.join(players, players.c.id == transactions.c.player_id))
        .where(transactions.c.kind == "bonus", transactions.c.amount == 0)
        .order_by(transactions.c.id)
    )
    return [{"transactionId": str(r.id), "userId": r.user_id, "reference": r.reference, "bonusCode": r.bonus_code,
             "announced": from_minor(r.announced_amount or 0, r.currency), "currency": r.currency,
             "createdAt": iso(r.created_at)} for r in rows]
