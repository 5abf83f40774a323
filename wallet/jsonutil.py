"""JSON with exact decimals both ways: numbers are read as Decimal and Decimals written as numbers.

`loads` also refuses, with `JSONRefused` (a ValueError), well-formed JSON that
the wallet cannot take (docs/protocol.md):

* nesting deeper than `JSON_MAX_DEPTH` levels (checked right after parsing,
  without recursion, before anything walks the document recursively);
* a key given twice in one object with different values (the standard
  library would silently keep the last one): "different" is as written, so
  `1` and `"1"`, `1` and `1.0`, `null` and a value all differ; the same key
  twice with the same value is accepted;
* text no database column can hold: a NUL character or an unpaired
  surrogate, in a key or a string, anywhere in the document.

Numbers keep a trace of how they were written, for the money parser
(wallet/money.py), which takes only plain decimal notation: a number with an
exponent (`1e2`) is read as an `ExponentDecimal`, and the integer `-0` as
`NEGATIVE_ZERO`. Both compare, hash and serialise exactly as the Decimal or
int they stand for (so request hashes are unchanged). An integer with more
digits than Python converts to int (4,300) is read as an exact Decimal, so
that it is refused as too large (10), not as unreadable.

The checks cost little on the common path: the depth is walked (level by
level, containers only) only when the text holds more brackets than the
limit, and the strings only when the text has an escape that could be a NUL
or a surrogate (`\\u0000`, `\\ud800`-`\\udfff`); raw lone surrogates (which
the decoding lets through, as json.loads does) are found by one C-speed
encode of non-ASCII text. A key given twice costs a comparison only when an
object has one (`object_pairs_hook`).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import simplejson
from flask.json.provider import JSONProvider

from wallet.limits import JSON_MAX_DEPTH


class ExponentDecimal(Decimal):
    """A JSON number written with an exponent (`1e2`, `1.5E-3`): its value, marked as not plain."""

    __slots__ = ()


class NegativeZero(int):
    """The JSON integer `-0`: zero, marked as written with a sign."""

    __slots__ = ()


NEGATIVE_ZERO = NegativeZero(0)


class JSONRefused(ValueError):
    """Well-formed JSON the wallet refuses (too deep, an ambiguous key, text with NUL or a lone
    surrogate). `reason` is short and safe to answer; `document` is what was parsed (or `NOTHING`
    when parsing itself gave up), so that a caller can still read what it needs for its answer."""

    def __init__(self, reason: str, document: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.document = document


NOTHING: Any = object()
TOO_DEEP = f"JSON nested deeper than {JSON_MAX_DEPTH} levels"
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _float(literal: str) -> Decimal:
    if "e" in literal or "E" in literal:
        return ExponentDecimal(literal)
    return Decimal(literal)


def _int(literal: str) -> int | Decimal:
    if literal == "-0":
        return NEGATIVE_ZERO
    try:
        return int(literal)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits): exact all the same
        return Decimal(literal)


class _Conflict(Exception):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # a key given more than once: fine only if always with the same value
        first: dict[str, Any] = {}
        for key, value in pairs:
            if key in first and not same_json(first[key], value):
                raise _Conflict(key)
            first.setdefault(key, value)
    return obj


# One decoder for every call (as json.loads does without arguments): building one per call costs
# more than parsing a callback body.
_DECODER = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=Decimal, object_pairs_hook=_object)
_LENIENT = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=Decimal)


def loads(raw: bytes | str) -> Any:
    """Parse JSON; floats and NaN/Infinity become Decimal (never a binary float).

    Raises ValueError for text that is not JSON, and its subclass JSONRefused for
    JSON the wallet cannot take (module docstring).
    """
    if isinstance(raw, (bytes, bytearray)):
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads decodes bytes
    else:
        text = raw
    try:
        document = _DECODER.decode(text)
    except RecursionError as exc:
        raise JSONRefused(TOO_DEEP, NOTHING) from exc
    except _Conflict as conflict:
        # Rare (hostile or broken senders): parse again, keeping the last value, for what the
        # caller reads to answer (a Refund echoes its reference).
        raise JSONRefused(f"field {_short(conflict.args[0])} given twice with different values",
                          _lenient(text)) from None
    # More brackets than levels allowed (brackets in strings count too: only ever a walk too many).
    if text.count("{") + text.count("[") > JSON_MAX_DEPTH and not _within_depth(document):
        raise JSONRefused(TOO_DEEP, document)
    # A NUL or a lone surrogate can come from an escape (\u0000, \ud800-\udfff): walk the strings
    # only when the text has one (or something that looks like one).
    if "\\u" in text and _SUSPECT_ESCAPE.search(text):
        problem = inspect(document)
        if problem:
            raise JSONRefused(problem, document)
    # ... or as raw bytes, which the decoding above lets through (surrogatepass).
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise JSONRefused("text must not contain unpaired surrogates", document) from None
    return document


def _within_depth(document: Any) -> bool:
    """True when `document` is nested at most JSON_MAX_DEPTH levels (the document itself is level 1).
    Level by level, without recursion: any depth the parser took is safe to check."""
    level = [document] if type(document) is dict or type(document) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > JSON_MAX_DEPTH:
            return False
        level = [v for c in level for v in (c.values() if type(c) is dict else c)
                 if type(v) is dict or type(v) is list]
    return True


def _lenient(text: str) -> Any:
    try:
        return _LENIENT.decode(text)
    except (ValueError, RecursionError):
        return NOTHING


def inspect(document: Any, *, check_text: bool = True) -> str | None:
    """Why `document` (parsed JSON) is refused, or None: nesting deeper than JSON_MAX_DEPTH, or
    (with check_text) a key or string holding NUL or an unpaired surrogate. Iterative: any depth."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if isinstance(value, dict):
            if depth > JSON_MAX_DEPTH:
                return TOO_DEEP
            for key, item in value.items():
                if check_text and isinstance(key, str) and text_problem(key):
                    return f"a field name {text_problem(key)}"
                push((item, depth + 1))
        elif isinstance(value, list):
            if depth > JSON_MAX_DEPTH:
                return TOO_DEEP
            for item in value:
                push((item, depth + 1))
        elif check_text and isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return f"a text value {problem}"
    return None


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store `value` (a NUL, an unpaired surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain unpaired surrogates"
    return None


def same_json(a: Any, b: Any) -> bool:
    """True when two parsed JSON values were written alike: same types, same values, Decimals with
    the same digits (`1` is not `1.0` nor `"1"`, `null` is not a value). Key order does not count."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, Decimal):
        return str(a) == str(b)  # NaN too; 1.0 and 1.00 differ
    return bool(a == b)


def _short(key: str) -> str:
    """A key, quoted and cut short, for a description (never the whole of a hostile value)."""
    text = json.dumps(key)  # ASCII: NUL and surrogates escaped
    return text if len(text) <= 40 else text[:37] + '..."'


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
