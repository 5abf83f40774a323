"""What money a callback moved, as its stored function reports it: for metrics only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Movement:
    """One ledger entry written by a callback: kind, signed integer minor units, currency.

    Reported by the function after its commit, so a rolled-back call is never counted.
    """

    kind: str
    amount: int
    currency: str
