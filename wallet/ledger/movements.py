"""What money a callback moved, as the ledger wrote it: for metrics, read only after the commit.

The ledger notes each entry it appends (`record`); `run_callback` collects the
notes of one transaction (`collecting`) and hands them out only once that
transaction has committed, so a rolled-back attempt is never counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Movement:
    """One ledger entry written by a callback: kind, signed integer minor units, currency."""

    kind: str
    amount: int
    currency: str


_current: ContextVar[list[Movement] | None] = ContextVar("wallet_movements", default=None)


def record(kind: str, amount: int, currency: str) -> None:
    """Note an appended entry (a no-op outside `collecting`, e.g. for admin adjustments)."""
    notes = _current.get()
    if notes is not None:
        notes.append(Movement(kind, amount, currency))


@contextmanager
def collecting() -> Iterator[list[Movement]]:
    notes: list[Movement] = []
    token = _current.set(notes)
    try:
        yield notes
    finally:
        _current.reset(token)
