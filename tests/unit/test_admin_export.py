"""CSV cells, opaque cursors and CLI tables, without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wallet.admin.cli import table
from wallet.admin.export import cell, csv_lines
from wallet.admin.queries import decode_cursor, encode_cursor
from wallet.ledger.outcomes import Invalid


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+44 20", "'+44 20"), ("-x", "'-x"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("ok", "ok"), (None, ""), (Decimal("-10.00"), "-10.00"), (Decimal("0E-2"), "0.00"), (Decimal("1E+3"), "1000"),
    (7, "7"),
])
def test_cells_defuse_formulas_but_keep_numbers(value, expected):
    assert cell(value) == expected


def test_csv_lines_quote_and_terminate_each_row():
    lines = list(csv_lines([{"a": 'x,"y"', "b": "two\nlines"}], ("a", "b")))
    assert lines == ["a,b\r\n", '"x,""y""","two\nlines"\r\n']


@pytest.mark.parametrize("last_id", [1, 42, 2**62])
def test_cursor_round_trips(last_id):
    assert decode_cursor(encode_cursor(last_id)) == last_id


@pytest.mark.parametrize("cursor", ["", "42", "dHg6", "dHg6LTE", "eHg6NDI", "%%%", encode_cursor(2**63)])
def test_a_forged_cursor_is_invalid(cursor):
    with pytest.raises(Invalid):
        decode_cursor(cursor)


def test_table_aligns_money_right():
    out = table([{"id": "1", "amount": Decimal("-1.50")}, {"id": "22", "amount": Decimal("100.00")}], ("id", "amount"))
    assert out.splitlines() == ["id  amount", "--  ------", "1    -1.50", "22  100.00"]
    assert table([], ("kind",)).endswith("(none)")
