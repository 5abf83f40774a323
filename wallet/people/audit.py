"""The audit trail: one entry per staff write (API, CLI, back-office site) and per sweep action.

`record` appends in the caller's transaction, so that an entry exists exactly when its change was
committed. The table is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE (migration 0012).
`before` and `after` are JSON objects of what the write changed (amounts as decimal strings with the
currency's digits, times as ISO 8601). Text is stored verbatim (escaping is the reader's job).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, select

from wallet import clock, cursors
from wallet.ledger.models import audit_log, iso
from wallet.ledger.outcomes import Invalid
from wallet.limits import FREE_TEXT_LENGTH, OPERATOR_NAME_LENGTH

if TYPE_CHECKING:
    from wallet.people.staff import Actor

MAX_PAGE = 1000
COLUMNS = ("id", "at", "actor", "role", "channel", "action", "target", "reason", "before", "after", "sourceAddress")


def _plain(value: Any) -> Any:
    """A JSON value PostgreSQL's jsonb keeps exactly: Decimals as strings, times as ISO 8601."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def target(kind: str, name: str | int) -> str:
    """An entry's target, typed so that names of different kinds never meet: "player:123", "game:x",
    "staff:alice", "round:r-1", "sweep:7"."""
    return f"{kind}:{name}"


def _clip(text: str | None, length: int) -> str | None:
    return text if text is None or len(text) <= length else text[: length - 3] + "..."


def record(conn: Connection, actor: Actor, action: str, target: str | None, reason: str | None,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    """Append one entry in `conn`'s transaction; its id."""
    return conn.execute(audit_log.insert().values(
        at=clock.utcnow(), actor=_clip(actor.name, OPERATOR_NAME_LENGTH), role=actor.role, channel=actor.channel,
        action=action, target=_clip(target, OPERATOR_NAME_LENGTH), reason=_clip(reason, FREE_TEXT_LENGTH),
        before=_plain(before), after=_plain(after), source_address=actor.address,
    ).returning(audit_log.c.id)).scalar_one()


def entry_dict(row: Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "at": iso(row.at), "actor": row.actor, "role": row.role, "channel": row.channel,
            "action": row.action, "target": row.target, "reason": row.reason, "before": row.before,
            "after": row.after, "sourceAddress": row.source_address}


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _query(f: AuditFilter, after_id: int | None = None) -> Any:
    c = audit_log.c
    stmt = select(audit_log)
    if f.actor is not None:
        stmt = stmt.where(c.actor == f.actor)
    if f.action is not None:  # an exact action, or a family: "adjustment" matches "adjustment.approve"
        stmt = stmt.where((c.action == f.action) | c.action.startswith(f.action + ".", autoescape=True))
    if f.target is not None:
        stmt = stmt.where(c.target == f.target)
    if f.since is not None:
        stmt = stmt.where(c.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(c.at < f.until)
    if after_id is not None:
        stmt = stmt.where(c.id < after_id)
    return stmt.order_by(c.id.desc())


def search(conn: Connection, f: AuditFilter | None = None, limit: int = 100, cursor: str | None = None
           ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of entries, newest first: (items, next_cursor), next_cursor None on the last page."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    after_id = cursors.decode_id("audit", cursor) if cursor is not None else None
    rows = conn.execute(_query(f or AuditFilter(), after_id).limit(limit + 1)).all()
    next_cursor = cursors.encode("audit", rows[limit - 1].id) if len(rows) > limit else None
    return [entry_dict(r) for r in rows[:limit]], next_cursor


def iter_entries(conn: Connection, f: AuditFilter, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every matching entry, newest first, from one server-side cursor (for CSV)."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(_query(f))
    for row in result:
        yield entry_dict(row)


def for_target(conn: Connection, target: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest entries about one target (a player's page shows its history of changes)."""
    return search(conn, AuditFilter(target=target), limit)[0]
