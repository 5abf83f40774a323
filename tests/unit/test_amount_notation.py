"""Amounts: plain decimal notation only, parsed exactly under a context that can never round, and
refused (10) when the bigint minor units could not hold them (wallet/money.py's docstring says
which notations count). Through the parser and through the wallet, on the real database."""

from __future__ import annotations

import json
import re
from decimal import Decimal, getcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import callback_body
from wallet.jsonutil import loads
from wallet.limits import BIGINT_MAX, MAX_AMOUNT
from wallet.money import AmountError, from_minor, parse_amount, parse_signed_amount, to_minor

PLAIN = ["0", "1", "13", "10.00", "0.5", "007.50", "1.000000", "999999999999.9999", "0." + "0" * 5000]
NOT_PLAIN = [
    "10.00\n", "\n10.00", "10.00 ", " 10.00", "1.", ".5", "+1", "-1", "-0", "-0.00", "1e2", "1E2", "1.5e-3",
    "0x10", "1_000", "1,00", "١٢", "１２", "NaN", "Infinity", "", " ", "1..0", "1.0.0", "10.00\x00", "10.00\r\n",
]


@pytest.mark.parametrize("raw", PLAIN)
def test_plain_decimal_strings_are_money(raw):
    assert parse_amount(raw) == Decimal(raw)


@pytest.mark.parametrize("raw", NOT_PLAIN)
def test_anything_else_in_a_string_is_not(raw):
    with pytest.raises(AmountError):
        parse_amount(raw)


@pytest.mark.parametrize("literal, ok", [
    ("100", True), ("10.0", True), ("0", True), ("0.00", True),
    ("1e2", False), ("1E2", False), ("1.5e1", False), ("0e5", False), ("1E+400", False), ("1e-400", False),
    ("-0", False), ("-0.0", False), ("-1", False), ("NaN", False), ("Infinity", False), ("-Infinity", False),
])
def test_json_numbers_must_be_plain_too(literal, ok):
    value = loads('{"amount":%s}' % literal)["amount"]
    if ok:
        assert parse_amount(value) == Decimal(literal)
    else:
        with pytest.raises(AmountError):
            parse_amount(value)


def test_no_rounding_anywhere():
    """The default context has 28 digits: under it, scaleb turned this into exactly 1.00 USD."""
    tiny = "1.000000000000000000000000000000001"
    assert getcontext().prec == 28
    with pytest.raises(AmountError):
        parse_amount(tiny)
    with pytest.raises(AmountError):
        to_minor(Decimal(tiny), "USD")
    with pytest.raises(AmountError):
        to_minor(Decimal("1" + "0" * 40 + ".01"), "USD")  # 43 digits: too large, never rounded
    assert to_minor(Decimal("92233720368547758.07"), "USD") == BIGINT_MAX
    with pytest.raises(AmountError):
        to_minor(Decimal("92233720368547758.08"), "USD")
    assert from_minor(BIGINT_MAX, "CLF") == Decimal("922337203685477.5807")
    assert str(from_minor(-5, "KWD")) == "-0.005"
    assert parse_signed_amount("-" + "9" * 11 + ".99") == Decimal("-99999999999.99")
    assert str(parse_signed_amount(Decimal("-1.000000000000000000000000000000000"))) == "-1.0000"


def test_trailing_zeros_do_not_make_an_amount_too_precise():
    assert parse_amount("1." + "0" * 40) == 1
    assert to_minor(parse_amount("1." + "0" * 40), "JPY") == 1
    with pytest.raises(AmountError):
        parse_amount("1." + "0" * 40 + "1")


def test_the_largest_amount_is_refused_and_the_one_below_accepted():
    with pytest.raises(AmountError):
        parse_amount(str(MAX_AMOUNT))
    with pytest.raises(AmountError):
        parse_amount(int(MAX_AMOUNT))
    assert parse_amount(str(MAX_AMOUNT - Decimal("0.0001"))) == MAX_AMOUNT - Decimal("0.0001")


_PLAIN_RE = re.compile(r"[0-9]+(\.[0-9]+)?")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.-+eE \n\t_x", max_size=14))
def test_a_string_is_money_exactly_when_it_is_plain_decimal(raw):
    try:
        value = parse_amount(raw)
    except AmountError:
        value = None
    if _PLAIN_RE.fullmatch(raw) and Decimal(raw) < MAX_AMOUNT and Decimal(raw) == Decimal(raw).quantize(Decimal("0.0001")):
        assert value == Decimal(raw)
    else:
        assert value is None


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**16 - 1), st.integers(0, 30), st.sampled_from(["USD", "JPY", "KWD", "CLF"]))
def test_minor_units_are_exact_for_every_digit_count(units, zeros, currency):
    """A value written with up to 4 decimals and any number of trailing zeros: to_minor is exact."""
    text = f"{units // 10**4}.{units % 10**4:04d}" + "0" * zeros
    value = parse_amount(text)
    digits = {"USD": 2, "JPY": 0, "KWD": 3, "CLF": 4}[currency]
    if units % 10 ** (4 - digits):
        with pytest.raises(AmountError):
            to_minor(value, currency)
    else:
        assert to_minor(value, currency) == units // 10 ** (4 - digits)
        assert from_minor(to_minor(value, currency), currency) == value


# --------------------------------------------------------------------------- through the wallet

IMPOSSIBLE = [
    '"10.00\\n"', '"10.00 "', '"+1"', '"1."', '".5"', '"1e2"', "1e2", "1E+2", "0e5", "-0", "-0.0", '"-0"',
    '"1.000000000000000000000000000000001"', "1.000000000000000000000000000000001", '"0.001"', "0.001",
    str(10**12), '"1000000000000"', str(10**30), '"' + "9" * 400 + '"', "9" * 400, "9" * 5000, '"0.' + "0" * 20000 + '1"',
]


@pytest.mark.parametrize("method", ["Bet", "Result", "Refund"])
def test_impossible_amounts_are_10_and_move_nothing(provider, operator, player, method):
    provider.call("Bet", reference="the-bet", roundId="round-a", amount="1.00")
    for amount in IMPOSSIBLE:
        body = json.dumps(callback_body(method, reference="the-bet" if method == "Refund" else "new-ref",
                                        roundId="round-a", amount=0))
        answer = provider.send(method, body.replace('"amount": 0', f'"amount": {amount}'))
        assert answer["error"] == 10 and answer["description"].startswith("Invalid amount"), (amount, answer)
        if method == "Refund":
            assert answer["reference"] == "the-bet"
    assert operator.balance() == Decimal("999.00")
    assert operator.reconciliation() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}


def test_an_amount_just_below_the_limit_is_served(provider, operator, player):
    operator.open_player("whale", deposit=None)
    big = str(MAX_AMOUNT - Decimal("0.01"))
    assert provider.call("Result", userId="whale", reference="w1", roundId="rw", amount=big)["error"] == 0
    assert provider.call("Bet", userId="whale", reference="b1", roundId="rb", amount=big)["error"] == 0
    assert operator.reconciliation() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}
