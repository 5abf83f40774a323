"""The wallet's clock. Every time the wallet writes (ledger entries, rounds, answers, cancels)
comes from `utcnow()`, read through this module, so that tests can move it
(`monkeypatch.setattr(clock, "utcnow", ...)`) and the stored functions get the same time
as the rest of the service (they take it as an argument: wallet/ledger/functions.py)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
