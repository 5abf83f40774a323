"""Exact money parsing and formatting (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.money import AmountError, from_minor, minor_unit, parse_amount, parse_signed_amount, to_minor


@pytest.mark.parametrize("raw, expected", [
    (100, Decimal(100)), (Decimal("10.0"), Decimal("10.0")), ("13", Decimal(13)), ("0.01", Decimal("0.01")),
    (0, Decimal(0)), ("007.50", Decimal("7.50")), ("1.000000", Decimal(1)),
])
def test_amounts_parse_exactly(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize("raw", [
    -1, "-1", Decimal("-0.01"), "abc", "", " 1", "1 ", "+1", "1e3", "1.", ".5", "0x10", True, None, [1], {"a": 1},
    Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+400"), 10**30, 1.5,
    Decimal("-0"),  # a sign, even on zero, is not plain decimal money
])
def test_bad_amounts_are_refused(raw):
    with pytest.raises(AmountError):
        parse_amount(raw)


@pytest.mark.parametrize("value, currency, minor", [
    (Decimal("10.50"), "USD", 1050), (Decimal("10.0"), "JPY", 10), (Decimal("1.005"), "KWD", 1005),
    (Decimal("0"), "EUR", 0), (Decimal("1E+3"), "USD", 100000),
])
def test_minor_units_follow_iso_4217(value, currency, minor):
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize("value, currency", [(Decimal("1.001"), "USD"), (Decimal("1.5"), "JPY"), (Decimal("0.0001"), "KWD")])
def test_precision_finer_than_the_minor_unit_is_refused(value, currency):
    with pytest.raises(AmountError):
        to_minor(value, currency)


def test_answers_carry_exactly_the_currency_digits():
    assert str(from_minor(9989999, "USD")) == "99899.99"
    assert str(from_minor(1500, "JPY")) == "1500"
    assert str(from_minor(5, "KWD")) == "0.005"
    assert str(from_minor(100, "USD")) == "1.00"


def test_signed_amounts_for_adjustments():
    assert parse_signed_amount("-12.50") == Decimal("-12.50")
    assert parse_signed_amount(-3) == Decimal(-3)
    with pytest.raises(AmountError):
        parse_signed_amount("--1")


@given(st.integers(min_value=0, max_value=10**14), st.sampled_from(["USD", "JPY", "KWD", "CLF", "EUR"]))
def test_minor_units_round_trip(minor, currency):
    value = from_minor(minor, currency)
    assert to_minor(value, currency) == minor
    assert -value.as_tuple().exponent == minor_unit(currency) or minor_unit(currency) == 0
