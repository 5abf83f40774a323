"""Read and change the operator controls: the game catalogue, a player's limits and self-exclusion.

The admin API (wallet/admin/controls_api.py), the CLI (wallet/admin/controls_cli.py) and the
support pages call these functions; the Bet's and Check's stored functions read what they write
(wallet/ledger/sql/limits.sql). Nothing here decides a refusal: a limit is changed only through
`wallet_set_limit` and an exclusion only through `wallet_set_exclusion`, which hold the rules
(tightening at once, loosening after the cooling-off period, an exclusion never shortened).

* Reads take a connection (`read()` in wallet/admin/blueprint.py gives one); writes take the
  engine and own their transaction, so that they can log what they did once it is committed
  and, for a self-exclusion, close the player's session at the provider afterwards (never
  inside the transaction: a provider call is not held under the player's lock).
* Every write takes a `reason` (required: 1 to FREE_TEXT_LENGTH characters) and the `actor`
  (wallet/people/staff.py), whose role is checked; a change appends its audit entry (before and
  after) in the change's own transaction, and is logged on `wallet.controls`.
* Times come from wallet.clock (tests move it); the stored functions get the same `now`.
* Amounts are in the player's currency, exact: more decimals than it has is Invalid (422),
  never rounded. In the database they are minor units (wallet/money.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, text, update

from config import Settings
from wallet import clock
from wallet.people import audit
from wallet.people.staff import Actor, require
from wallet.jsonutil import text_problem
from wallet.ledger.models import LIMIT_NAMES, games, iso, player_limits, players
from wallet.ledger.outcomes import Conflict, Invalid, NotFound
from wallet.limits import FREE_TEXT_LENGTH
from wallet.money import AmountError, from_minor, to_minor
from wallet.provider import calls as provider_calls

log = logging.getLogger("wallet.controls")

PERIODS = ("day", "week", "month")
# Each limit's name in the API (a dotted path for the per-period ones) -> its name in the database.
LIMITS: dict[str, str] = {
    "maxBet": "max_bet",
    **{f"lossLimit.{p}": f"loss_{p}" for p in PERIODS},
    **{f"wagerLimit.{p}": f"wager_{p}" for p in PERIODS},
    "realityCheckMinutes": "reality_check",
}
API_NAMES = {db: api for api, db in LIMITS.items()}
assert set(API_NAMES) == set(LIMIT_NAMES), "wallet/ledger/models.py LIMIT_NAMES and LIMITS disagree"
# The reality-check interval is in minutes, every other limit an amount of the player's currency.
MINUTES = "reality_check"
MAX_REALITY_CHECK_MINUTES = 7 * 24 * 60
# A sentinel: "leave the self-exclusion as it is" (None means "remove it", which is refused while it runs).
KEEP: Any = object()

_SET_LIMIT = text("SELECT * FROM wallet_set_limit(:player_id, :name, :value, :cooling, :now)")
_SET_EXCLUSION = text("SELECT o_outcome, o_description FROM wallet_set_exclusion(:player_id, :until, :now)")
_TIMEZONE = text("SELECT coalesce(nullif(current_setting('wallet.timezone', true), ''), 'UTC')")


def utc_iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, whatever time zone the database session gave the value in."""
    return iso(moment.astimezone(UTC) if moment is not None and moment.tzinfo is not None else moment)


def check_reason(reason: Any) -> str:
    """The reason every write needs: text of 1 to FREE_TEXT_LENGTH characters (Invalid otherwise)."""
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("reason: a reason is required for every change (1 to "
                      f"{FREE_TEXT_LENGTH} characters)")
    if len(reason) > FREE_TEXT_LENGTH:
        raise Invalid(f"reason: at most {FREE_TEXT_LENGTH} characters")
    problem = text_problem(reason)
    if problem:
        raise Invalid(f"reason: {problem}")
    return reason


# --------------------------------------------------------------------------- games


def game_dict(row: Row[Any]) -> dict[str, Any]:
    return {"gameId": row.game_id, "gameName": row.game_name, "enabled": row.enabled,
            "firstSeenAt": utc_iso(row.first_seen_at), "updatedAt": utc_iso(row.updated_at)}


def list_games(conn: Connection, enabled: bool | None = None) -> list[dict[str, Any]]:
    """The catalogue (every game a Bet has named), by gameId; only the enabled or disabled ones if asked."""
    stmt = select(games).order_by(games.c.game_id)
    if enabled is not None:
        stmt = stmt.where(games.c.enabled.is_(enabled))
    return [game_dict(row) for row in conn.execute(stmt)]


def get_game(conn: Connection, game_id: str) -> dict[str, Any]:
    row = conn.execute(select(games).where(games.c.game_id == game_id)).first()
    if row is None:
        raise NotFound(f"game {game_id} not found (a game is recorded by its first Bet)")
    return game_dict(row)


def set_game_enabled(engine: Engine, game_id: str, enabled: bool, *, reason: str,
                     actor: Actor) -> tuple[bool, dict[str, Any]]:
    """Enable or disable a game. Returns (changed, the game); NotFound for a game no Bet has named.
    A disabled game's Bets get 8; its wins, refunds and cancels are processed as usual."""
    require(actor, "game.toggle")
    check_reason(reason)
    with engine.begin() as conn:
        before = conn.execute(select(games).where(games.c.game_id == game_id).with_for_update()).first()
        if before is None:
            raise NotFound(f"game {game_id} not found (a game is recorded by its first Bet)")
        if before.enabled == enabled:
            return False, game_dict(before)
        after = conn.execute(update(games).where(games.c.game_id == game_id)
                             .values(enabled=enabled, updated_at=clock.utcnow()).returning(games)).one()
        audit.record(conn, actor, "game.enable" if enabled else "game.disable", audit.target("game", game_id),
                     reason, {"enabled": before.enabled}, {"enabled": after.enabled})
    log.info("game %s", "enabled" if enabled else "disabled", extra={"fields": {
        "action": "game.enable" if enabled else "game.disable", "actor": actor.name, "target": game_id,
        "reason": reason, "before": {"enabled": before.enabled}, "after": {"enabled": after.enabled}}})
    return True, game_dict(after)


# --------------------------------------------------------------------------- limits: reading


@dataclass(frozen=True)
class LimitState:
    """One limit at one moment: the value in force (None: no limit) and a loosening waiting for its
    time (`pending_at` None: nothing pending). Minor units, or minutes for the reality check."""

    value: int | None = None
    pending: int | None = None
    pending_at: datetime | None = None


def state_of(row: Row[Any] | None, now: datetime) -> LimitState:
    """As wallet_limit_value() sees it: a pending value whose time has come is the value in force."""
    if row is None:
        return LimitState()
    if row.pending_at is not None and row.pending_at <= now:
        return LimitState(row.pending_value)
    if row.pending_at is not None:
        return LimitState(row.value, row.pending_value, row.pending_at)
    return LimitState(row.value)


def states(conn: Connection, player_id: int, now: datetime) -> dict[str, LimitState]:
    rows = {row.name: row for row in conn.execute(select(player_limits).where(player_limits.c.player_id == player_id))}
    return {name: state_of(rows.get(name), now) for name in LIMIT_NAMES}


def shown(name: str, value: int | None, currency: str) -> Decimal | int | None:
    """A stored limit as the API shows it: minutes, or an amount with the currency's digits."""
    if value is None or name == MINUTES:
        return value
    return from_minor(value, currency)


def limits_view(conn: Connection, player: Row[Any], now: datetime | None = None) -> dict[str, Any]:
    """A player's limits as the API answers them: the values in force, each pending loosening with the
    time it takes effect, the self-exclusion, and the time zone the periods are counted in."""
    now = now or clock.utcnow()
    found = states(conn, player.id, now)
    currency = player.currency

    def value(name: str) -> Decimal | int | None:
        return shown(name, found[name].value, currency)

    pending = [{"limit": API_NAMES[name], "value": shown(name, s.pending, currency),
                "effectiveAt": utc_iso(s.pending_at)} for name, s in found.items() if s.pending_at is not None]
    return {
        "userId": player.user_id,
        "currency": currency,
        "maxBet": value("max_bet"),
        "lossLimit": {p: value(f"loss_{p}") for p in PERIODS},
        "wagerLimit": {p: value(f"wager_{p}") for p in PERIODS},
        "realityCheckMinutes": value(MINUTES),
        "excludedUntil": utc_iso(player.excluded_until),
        "selfExcluded": player.excluded_until is not None and player.excluded_until > now,
        "pending": pending,
        "timezone": conn.execute(_TIMEZONE).scalar_one(),
    }


def _player(conn: Connection, user_id: str, *, lock: bool = False) -> Row[Any]:
    stmt = select(players).where(players.c.user_id == user_id)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound(f"player {user_id} not found")
    return row


def get_limits(conn: Connection, user_id: str) -> dict[str, Any]:
    return limits_view(conn, _player(conn, user_id))


# --------------------------------------------------------------------------- limits: changing


@dataclass(frozen=True)
class Change:
    """What one field of a change did, in the API's terms (amounts with the currency's digits)."""

    field: str
    before: Any
    after: Any  # the value in force after the change
    pending: Any = None  # a loosening waiting for `effective_at`
    effective_at: datetime | None = None
    changed: bool = True
    note: str = ""

    def describe(self) -> str:
        def show(v: Any) -> str:
            if isinstance(v, datetime):
                return utc_iso(v) or "none"
            return "none" if v is None else format(v, "f") if isinstance(v, Decimal) else str(v)

        if not self.changed:
            what = f"{self.field}: unchanged ({show(self.after)})"
            if self.effective_at is not None:
                what += f"; {show(self.pending)} still pending until {utc_iso(self.effective_at)}"
            return what + (f"; {self.note}" if self.note else "")
        if self.effective_at is not None:
            return (f"{self.field}: {show(self.before)} stays in force; {show(self.pending)} pending, "
                    f"takes effect at {utc_iso(self.effective_at)}")
        return f"{self.field}: {show(self.before)} -> {show(self.after)}, at once" + (
            f"; {self.note}" if self.note else "")

    def as_log(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after, "pending": self.pending,
                "effectiveAt": utc_iso(self.effective_at), "changed": self.changed}


@dataclass(frozen=True)
class LimitsOutcome:
    """A change of limits: the player's limits after it, what each given field did, and the
    CloseSession call a new or extended self-exclusion made (None when none was made or recorded)."""

    limits: dict[str, Any]
    changes: list[Change]
    excluded: bool = False
    close_session: dict[str, Any] | None = None

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)


def _stored(name: str, value: Decimal | int | None, currency: str) -> int | None:
    """A limit as the database keeps it (minor units, or minutes); Invalid when it cannot be one."""
    field = API_NAMES[name]
    if value is None:
        return None
    if name == MINUTES:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REALITY_CHECK_MINUTES:
            raise Invalid(f"{field}: a whole number of minutes from 1 to {MAX_REALITY_CHECK_MINUTES}")
        return value
    if not isinstance(value, Decimal) or value.is_signed() or not value.is_finite():
        raise Invalid(f"{field}: a non-negative amount")
    try:
        return to_minor(value, currency)
    except AmountError as exc:
        raise Invalid(f"{field}: {exc}; amounts are never rounded") from exc


def set_limits(engine: Engine, settings: Settings, user_id: str, limits: Mapping[str, Decimal | int | None], *,
               excluded_until: datetime | None = KEEP, reason: str, actor: Actor) -> LimitsOutcome:
    """Change some of a player's limits and its self-exclusion, in one transaction under the
    player's row lock (so that no Bet sees half of it).

    `limits`: database names (LIMIT_NAMES) -> the new value (an amount of the player's currency
    as given, exact; minutes for `reality_check`) or None to remove it; names absent stay.
    Each given limit goes through wallet_set_limit with WALLET_LIMIT_COOLING_OFF_HOURS: tightening
    (or an equal value) at once, loosening (or removing) pending until the cooling-off is over.
    A value equal to the one in force with nothing pending, or to the one already pending, changes
    nothing (a repeated request does not restart the cooling-off).

    `excluded_until` (aware datetime): set or extend the self-exclusion (Invalid when not in the
    future, Conflict when it would shorten the one in force); None asks to remove it: Conflict while
    it runs, nothing to do otherwise. A new or extended exclusion also closes the player's session
    at the provider, best effort, recorded (wallet/provider/calls.py), after the commit.

    Any refusal (Forbidden, NotFound, Invalid, Conflict) changes nothing at all.
    """
    require(actor, "player.controls")
    check_reason(reason)
    unknown = sorted(set(limits) - set(LIMIT_NAMES))
    if unknown:
        raise Invalid(f"unknown limit(s): {', '.join(unknown)}")
    now = clock.utcnow()
    cooling = timedelta(hours=settings.limit_cooling_off_hours)
    changes: list[Change] = []
    excluded = False
    with engine.begin() as conn:
        player = _player(conn, user_id, lock=True)  # the lock every Bet of the player takes first
        currency = player.currency
        wanted = {name: _stored(name, limits[name], currency) for name in LIMIT_NAMES if name in limits}

        if excluded_until is not KEEP:
            before = player.excluded_until
            if excluded_until is None:
                if before is not None and before > now:
                    raise Conflict("a self-exclusion cannot be removed before it ends: it runs until "
                                   f"{utc_iso(before)}")
                changes.append(Change("excludedUntil", utc_iso(before), utc_iso(before), changed=False,
                                      note="no self-exclusion in force to remove"))
            else:
                outcome, description = conn.execute(
                    _SET_EXCLUSION, {"player_id": player.id, "until": excluded_until, "now": now}).one()
                if outcome == "invalid":
                    raise Invalid(description)  # names excludedUntil
                if outcome == "conflict":
                    raise Conflict(description)
                excluded = outcome == "set"
                after = excluded_until if excluded else before
                changes.append(Change("excludedUntil", utc_iso(before), utc_iso(after), changed=excluded,
                                      note="the player's session at the provider is being closed" if excluded
                                      else ""))

        current = states(conn, player.id, now)
        for name, value in wanted.items():
            was = current[name]
            field = API_NAMES[name]
            same = value == was.value if was.pending_at is None else value == was.pending
            if same:  # nothing to change: the value in force, or the one already pending (its time kept)
                changes.append(Change(field, shown(name, was.value, currency), shown(name, was.value, currency),
                                      shown(name, was.pending, currency), was.pending_at, changed=False))
                continue
            row = conn.execute(_SET_LIMIT, {"player_id": player.id, "name": name, "value": value, "cooling": cooling,
                                            "now": now}).one()
            now_state = state_of(row, now)
            dropped = was.pending_at is not None and now_state.pending_at is None
            changes.append(Change(field, shown(name, was.value, currency), shown(name, now_state.value, currency),
                                  shown(name, now_state.pending, currency), now_state.pending_at,
                                  note="the change that was pending is cancelled" if dropped else ""))

        view = limits_view(conn, _player(conn, user_id), now)
        done = [c for c in changes if c.changed]
        if done:
            audit.record(conn, actor, "limits.set", audit.target("player", user_id), reason,
                         {c.field: c.before for c in done},
                         {c.field: c.after if c.effective_at is None else
                          {"inForce": c.after, "pending": c.pending, "effectiveAt": utc_iso(c.effective_at)}
                          for c in done})
    if any(c.changed for c in changes):
        log.info("player limits changed", extra={"fields": {
            "action": "limits.set", "actor": actor.name, "target": user_id, "reason": reason,
            "changes": [c.as_log() for c in changes if c.changed]}})
    call = None
    if excluded:  # at the provider too: best effort, recorded, never failing what has been done
        call = provider_calls.close_session_quietly(engine, settings, user_id, actor=actor,
                                                    reason="player self-excluded")
    return LimitsOutcome(view, changes, excluded, call)
