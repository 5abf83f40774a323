"""Exact money: ISO 4217 minor units, parsing of provider amounts, formatting of answers.

Amounts live in the database as integer minor units (cents, yen, fils), so that
PostgreSQL and SQLite add them up exactly. They cross the wire as decimals.
Nothing here ever touches a binary float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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

# The largest amount accepted in one transaction, in major units. Far above any
# real stake, far below what a 64-bit count of minor units can hold.
MAX_AMOUNT = Decimal(10) ** 12

_CODE = re.compile(r"^[A-Z]{3}$")
_PLAIN_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class AmountError(ValueError):
    """The amount is not a finite, non-negative decimal in the currency's unit."""


def is_currency_code(code: str) -> bool:
    """True when `code` has the shape of an ISO 4217 alphabetic code."""
    return bool(_CODE.match(code))


def is_known_currency(code: str) -> bool:
    return code in _MINOR_UNITS


def minor_unit(currency: str) -> int:
    """Digits after the decimal point for `currency` (KeyError when unknown)."""
    return _MINOR_UNITS[currency]


def parse_amount(raw: object) -> Decimal:
    """Parse a provider amount (JSON number already read as Decimal/int, or a numeric string).

    Raises AmountError for anything that is not a finite decimal >= 0 and below
    MAX_AMOUNT. Booleans are refused (JSON true is not 1).
    """
    if isinstance(raw, bool):
        raise AmountError("amount must be a number")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        if not _PLAIN_DECIMAL.match(raw):
            raise AmountError("amount must be a plain decimal number")
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:  # pragma: no cover - the pattern rules it out
            raise AmountError("amount is not a number") from exc
    else:
        raise AmountError("amount must be a number or a numeric string")
    if not value.is_finite():
        raise AmountError("amount must be finite")
    if value < 0:
        raise AmountError("amount must not be negative")
    if value >= MAX_AMOUNT:
        raise AmountError("amount is too large")
    return value


def to_minor(value: Decimal, currency: str) -> int:
    """Exact integer minor units of `value`; AmountError when it has finer precision."""
    digits = minor_unit(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"amount has more than {digits} decimal places for {currency}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """The decimal value of `minor` units, carrying exactly the currency's digits."""
    digits = minor_unit(currency)
    return Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def parse_signed_amount(raw: object) -> Decimal:
    """Like parse_amount but allows a leading minus (admin adjustments are signed)."""
    if isinstance(raw, str) and raw.startswith("-"):
        return -parse_amount(raw[1:])
    if isinstance(raw, (int, Decimal)) and not isinstance(raw, bool) and raw < 0:
        return -parse_amount(-raw)
    return parse_amount(raw)
