"""Exact money: ISO 4217 minor units, parsing of provider amounts, formatting of answers.

Amounts live in the database as bigint minor units (cents, yen, fils), so that
sums are exact. They cross the wire as decimals. Nothing here ever touches a
binary float, and no arithmetic here can round: every operation runs under
`EXACT`, a decimal context that raises instead of rounding (the default
context rounds to 28 digits, which once turned 1.000000000000000000000000000000001
USD into 1.00).

What counts as money (docs/protocol.md: "only plain decimal notation"):

* a JSON string of ASCII digits with at most one decimal point between
  digits: "13", "10.00", "0.5", "007.50" (leading zeros are plain decimal).
  Refused (10): "1.", ".5", "+1", "-1", "-0", "1e2", " 1", "1\n", "1_000",
  non-ASCII digits, "NaN", "";
* a JSON number without an exponent and without a minus sign: 13, 10.0.
  Refused (10): 1e2 (read as ExponentDecimal), -0 and -0.0 (a sign, even on
  zero), NaN, Infinity;
* whatever the notation, finite, >= 0 and below MAX_AMOUNT, with no more
  significant decimals than the finest currency (4); trailing zeros do not
  count ("1.000000" is 1). The currency's own precision is checked when the
  player's currency is known (to_minor, or the database's wallet_to_minor).
"""

from __future__ import annotations

import re
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Clamped,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
)

from wallet.jsonutil import ExponentDecimal, NegativeZero
from wallet.limits import BIGINT_MAX, BIGINT_MIN, MAX_AMOUNT, MAX_MINOR_DIGITS

# Every operation on an amount runs in this context: unlimited precision and range, and a
# trap on every signal, so that an operation that would round (or overflow) raises instead.
EXACT = Context(
    prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Underflow, Subnormal, Inexact, Rounded, Clamped],
)
# The same, but dropping trailing zeros (Rounded without Inexact) is allowed: for cutting
# "1.000000" to "1.0000" and nothing else.
_ZEROS_ONLY = EXACT.copy()
_ZEROS_ONLY.traps[Rounded] = False

# ISO 4217 active codes and their minor units (List One). Funds and metals
# without a minor unit (XAU, XXX, ...) are deliberately absent: a wallet cannot
# hold them.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
    **dict.fromkeys(
        """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV
        BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE
        CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD
        HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD
        LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN
        NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG
        SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD
        TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL""".split(),
        2,
    ),
}

assert max(_MINOR_UNITS.values()) == MAX_MINOR_DIGITS, "wallet/limits.py: MAX_MINOR_DIGITS is the finest currency"

_CODE = re.compile(r"[A-Z]{3}")
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # always fullmatch: "$" would take "1\n"
# The finest step any currency can hold: an amount is cut to it, exactly, or refused.
_FINEST = Decimal(1).scaleb(-MAX_MINOR_DIGITS)


class AmountError(ValueError):
    """The amount is not a finite, non-negative decimal in the currency's unit."""


def is_currency_code(code: str) -> bool:
    """True when `code` has the shape of an ISO 4217 alphabetic code."""
    return _CODE.fullmatch(code) is not None


def is_known_currency(code: str) -> bool:
    return code in _MINOR_UNITS


def minor_unit(currency: str) -> int:
    """Digits after the decimal point for `currency` (KeyError when unknown)."""
    return _MINOR_UNITS[currency]


def parse_amount(raw: object) -> Decimal:
    """Parse a provider amount (a JSON number as wallet.jsonutil reads it, or a numeric string).

    Returns its exact value, with at most MAX_MINOR_DIGITS decimals; raises
    AmountError for anything that is not money in plain decimal notation (module
    docstring), negative, not below MAX_AMOUNT, or more precise than any currency.
    """
    kind = type(raw)
    if kind is str:
        if _PLAIN_DECIMAL.fullmatch(raw) is None:  # type: ignore[arg-type]
            raise AmountError("amount must be a plain decimal number")
        value = Decimal(raw)  # type: ignore[arg-type]  # exact: the constructor never rounds
    elif kind is Decimal:
        value = raw  # type: ignore[assignment]
        if value.is_signed():  # -0.0 too: a sign is not plain decimal money
            raise AmountError("amount must not be negative" if value.is_finite() else "amount must be finite")
    elif kind is int:
        if raw < 0:  # type: ignore[operator]
            raise AmountError("amount must not be negative")
        value = Decimal(raw)  # type: ignore[arg-type]  # exact
    elif kind is ExponentDecimal:
        raise AmountError("amount must be a plain decimal number, without an exponent")
    elif kind is NegativeZero:
        raise AmountError("amount must not be negative")
    elif isinstance(raw, bool) or not isinstance(raw, (int, Decimal)):
        raise AmountError("amount must be a number or a numeric string")
    else:  # other subclasses of int or Decimal: refuse rather than guess how they were written
        raise AmountError("amount must be a plain decimal number")
    if not value.is_finite():
        raise AmountError("amount must be finite")
    if value >= MAX_AMOUNT:  # comparisons are exact
        raise AmountError("amount is too large")
    if value.as_tuple().exponent < -MAX_MINOR_DIGITS:  # type: ignore[operator]
        try:
            value = value.quantize(_FINEST, context=_ZEROS_ONLY)  # drops trailing zeros, or raises
        except DecimalException:
            raise AmountError(f"amount has more than {MAX_MINOR_DIGITS} decimal places") from None
    return value


def to_minor(value: Decimal, currency: str) -> int:
    """Exact integer minor units of `value`; AmountError when it has finer precision than the
    currency, or when it does not fit the bigint columns."""
    digits = minor_unit(currency)
    if not value.is_finite():
        raise AmountError("amount must be finite")
    try:
        scaled = value.scaleb(digits, context=EXACT)
        whole = scaled.to_integral_value(context=EXACT)
    except DecimalException:
        raise AmountError("amount is out of range") from None
    if scaled != whole:
        raise AmountError(f"amount has more than {digits} decimal places for {currency}")
    if whole.adjusted() > 19:  # well beyond a bigint: refuse before making a huge int
        raise AmountError("amount is too large")
    minor = int(whole)
    if not BIGINT_MIN <= minor <= BIGINT_MAX:
        raise AmountError("amount is too large")
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    """The decimal value of `minor` units, carrying exactly the currency's digits (exact: scaleb
    only moves the exponent of Decimal(minor), whose exponent is 0)."""
    return Decimal(minor).scaleb(-minor_unit(currency), context=EXACT)


def parse_signed_amount(raw: object) -> Decimal:
    """Like parse_amount but allows a leading minus (admin adjustments are signed). Negation is
    copy_negate: exact, where unary minus would round to the context's precision."""
    if isinstance(raw, str) and raw.startswith("-"):
        return parse_amount(raw[1:]).copy_negate()
    if type(raw) is Decimal and raw.is_signed():
        return parse_amount(raw.copy_negate()).copy_negate()
    if type(raw) is int and raw < 0:
        return parse_amount(-raw).copy_negate()
    return parse_amount(raw)
