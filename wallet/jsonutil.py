"""JSON with exact decimals both ways: numbers are read as Decimal and Decimals written as numbers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import simplejson
from flask.json.provider import JSONProvider


def loads(raw: bytes | str) -> Any:
    """Parse JSON; floats and NaN/Infinity become Decimal (never a binary float)."""
    return json.loads(raw, parse_float=Decimal, parse_constant=Decimal)


def dumps(obj: Any, **kwargs: Any) -> str:
    """Serialise; a Decimal is written as a JSON number with exactly its digits (99.90 stays 99.90)."""
    kwargs.setdefault("separators", (",", ": ") if kwargs.get("indent") else (",", ":"))
    return simplejson.dumps(obj, use_decimal=True, default=str, **kwargs)


class DecimalJSONProvider(JSONProvider):
    """Flask's JSON provider, so that jsonify() and request.get_json() use the functions above."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.pop("default", None)
        return dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
