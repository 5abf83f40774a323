"""The provider's error-code tables: which number each decision is answered with (WALLET_ERROR_CODES).

The wallet decides in the provider's October 2024 numbering (wallet/ledger/outcomes.Code),
plus one decision the 2024 table has no number of its own for: a Bet in an expired
session (Code.SESSION_EXPIRED, answered 3 in 2024). The provider renumbered its
table in its V4.02 release (2025). This module is the one mapping: the service applies it
to the answers it gives itself (bad JSON, signatures, the database down), and hands it to
the database as the session setting `wallet.error_codes` (wallet/db.py), where
`wallet_answer` applies it to every answer the stored functions give and store
(wallet/ledger/sql/answers.sql). A stored answer replays as it was first given.
"""

from __future__ import annotations

import json

from wallet.ledger.outcomes import Code

TABLES: dict[str, dict[int, int]] = {
    "2024": {Code.SESSION_EXPIRED: Code.BET_NOT_ALLOWED},
    "2025": {
        Code.INSUFFICIENT_BALANCE: 15,
        Code.CURRENCY_MISMATCH: 52,
        Code.BET_NOT_ALLOWED: 53,
        Code.INVALID_UUID_OR_SIGNATURE: 54,
        Code.SESSION_EXPIRED: 55,
        Code.PLAYER_FROZEN: 56,
        Code.BAD_PARAMETERS: 57,
        Code.GAME_NOT_FOUND: 58,
        Code.INVALID_AMOUNT: 59,
        Code.BET_LIMIT: 60,
        Code.INTERNAL_RETRY: 998,
        Code.INTERNAL_NO_RETRY: 999,
        Code.END_ROUND_RETRY: 997,
    },
}
TABLE_NAMES = tuple(TABLES)


def answered(code: int, table: str) -> int:
    """The number `code` is answered with under `table` ("2024" or "2025")."""
    return TABLES[table].get(code, code)


def database_setting(table: str) -> str:
    """`wallet.error_codes` for `table`: a JSON object from decided code to answered code."""
    return json.dumps({str(int(k)): v for k, v in TABLES[table].items()}, separators=(",", ":"))
