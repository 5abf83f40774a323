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
import itertools
from collections.abc import Callable, Iterable, Iterator
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


def download(rows: Callable[[Any, Any], Iterator[dict[str, Any]]], f: Any, columns: tuple[str, ...],
             name: str) -> Any:
    """A streamed CSV answer of every row `rows(conn, f)` yields, read on the staff's read engine
    (wallet/admin/reads.py). The query runs before the first byte, so that its errors still get an
    answer; the connection is closed when the body ends or is never read (HEAD, a client gone)."""
    from flask import Response

    from wallet.admin import reads

    conn = reads.read_engine().connect()
    try:
        reads.announce_age(conn)
        found = rows(conn, f)
        found = itertools.chain(list(itertools.islice(found, 1)), found)
    except Exception:
        conn.close()
        raise

    def generate() -> Iterator[str]:
        try:
            yield from csv_lines(found, columns)
        finally:
            conn.close()

    response = Response(generate(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    response.call_on_close(conn.close)
    return response
