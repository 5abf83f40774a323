"""Keyset cursors of the paginated lists (admin API, CLI, site): `<kind>:<key>` in unpadded base64url.

Opaque to clients, so that a list's key can change without breaking them; the kind
keeps one list's cursor from being taken for another's. Anything else given as a
cursor (not base64, not ASCII, another kind, a key out of range) is refused with
one message, "cursor is not valid".
"""

from __future__ import annotations

import base64
import binascii

from wallet.ledger.outcomes import Invalid

BIGINT_LIMIT = 2**63  # an id at or beyond it cannot be a row's: a forged cursor


def encode(kind: str, key: str | int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str) -> str:
    """The key of a cursor of `kind`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not valid") from exc
    given, _, key = raw.partition(":")
    if given != kind:
        raise Invalid("cursor is not valid")
    return key


def decode_id(kind: str, cursor: str) -> int:
    """The key of a cursor of `kind` that holds a row id (digits, below 2**63)."""
    return id_of(decode(kind, cursor))


def id_of(key: str) -> int:
    if not key.isdigit() or int(key) >= BIGINT_LIMIT:
        raise Invalid("cursor is not valid")
    return int(key)
