"""CSV for spreadsheets: one row per ledger entry, streamed, safe to open in Excel or LibreOffice.

Money is written as a plain decimal string with the currency's digits
("-10.00"). Text cells that a spreadsheet would run as a formula (starting
with =, +, -, @, tab or carriage return) get a leading apostrophe, the OWASP
"CSV injection" advice; numeric columns are never altered, so a negative
amount stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

COLUMNS = (
    "transactionId", "createdAt", "type", "status", "userId", "roundId", "reference",
    "amount", "balanceAfter", "currency", "refundedBy", "sessionId", "gameId", "gameName", "uuid", "note",
    "campaignId", "campaignType", "jackpotId", "bonusCode", "announcedAmount", "recordedNotCredited",
)
# The daily report's columns (queries.daily_report), flattened: one row per day and currency.
REPORT_COLUMNS = (
    "day", "currency", "bets.count", "bets.sum", "wins.count", "wins.sum", "refunds.count", "refunds.sum",
    "cancels.count", "cancels.sum", "ggr", "promo.count", "promo.sum", "jackpot.count", "jackpot.sum",
    "bonus.count", "bonus.sum", "bonus.announced", "bonus.recordedNotCredited", "adjustments.count",
    "adjustments.sum",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One CSV cell: Decimals as plain digits, None empty, booleans true/false, formula-like text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def value_at(item: dict[str, Any], column: str) -> Any:
    """`bets.sum` reads item["bets"]["sum"], so nested answers flatten into columns."""
    value: Any = item
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def csv_lines(items: Iterable[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> Iterator[str]:
    """The header, then one CRLF-terminated, RFC 4180-quoted line per item (a generator: nothing buffered)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(columns)
    for item in items:
        yield line(cell(value_at(item, name)) for name in columns)
