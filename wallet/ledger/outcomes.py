"""What the wallet can answer: the decisions of a callback, and the errors of the admin side."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Code(IntEnum):
    """The decisions a callback can end in, numbered as in the provider's 2024 table (docs/protocol.md)."""

    SUCCESS = 0
    INSUFFICIENT_BALANCE = 1
    CURRENCY_MISMATCH = 2
    BET_NOT_ALLOWED = 3
    INVALID_UUID_OR_SIGNATURE = 5
    PLAYER_FROZEN = 6
    BAD_PARAMETERS = 7
    GAME_NOT_FOUND = 8
    INVALID_AMOUNT = 10
    BET_LIMIT = 50
    INTERNAL_RETRY = 100
    INTERNAL_NO_RETRY = 120
    END_ROUND_RETRY = 130
    REALITY_CHECK = 210
    OUT_OF_LIMITS = 310
    # Not a number of the 2024 table: a Bet in an expired session, answered 3 in 2024 and 55 in
    # 2025 (wallet/callbacks/codes.py).
    SESSION_EXPIRED = 55


@dataclass(frozen=True)
class Answer:
    """A callback answer: error, description, then the method's fields in order."""

    error: int
    description: str
    fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"error": int(self.error), "description": self.description, **self.fields}


class AdminError(Exception):
    """Base of the admin-side errors; `status` is the HTTP status the admin API answers."""

    status = 400


class NotFound(AdminError):
    status = 404


class Conflict(AdminError):
    status = 409


class Invalid(AdminError):
    status = 422
