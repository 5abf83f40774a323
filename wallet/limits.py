"""Every size and range limit of the wallet's data, in one place.

The database models take their column lengths from here, and the callback
schemas check the same numbers at the edge, so a value the database would
refuse is answered with a final error (7, or 10 for an amount) before it gets
there: a request that will fail the same way every time must never be
answered "retry" (docs/protocol.md, "final or retry, never confused").

Migrations do not import this module: they are frozen history and write their
numbers out (tests/unit/test_limits.py checks that the migrated schema and
these constants agree).
"""

from __future__ import annotations

from decimal import Decimal

# --------------------------------------------------------------------------- text

# An identifier the provider sends (uuid, userId, providerId, gameId, gameName, roundId,
# reference, bonusCode), in characters: VARCHAR(128) columns.
IDENTIFIER_LENGTH = 128

# A provider sessionId, in characters: VARCHAR(256).
SESSION_ID_LENGTH = 256

# Free text stored as given (timeStamp), in characters: VARCHAR(1024).
FREE_TEXT_LENGTH = 1024

# Free JSON stored as given (roundDetails, as a string or as JSON re-serialised compactly):
# at most this many bytes of UTF-8 once serialised. A TEXT column: the limit is the contract's.
FREE_JSON_BYTES = 64 * 1024

# JSON nesting: a body nested deeper than this (counting the body's own object as 1) is refused
# right after parsing, before anything walks it recursively.
JSON_MAX_DEPTH = 64

# An ISO 4217 alphabetic code.
CURRENCY_LENGTH = 3

# The wallet's own short words (statuses, kinds, method names): not input, but one number all the same.
WORD_LENGTH = 16

# A SHA-256 digest in hex (the request log's body hash).
HASH_LENGTH = 64

# The uuid the operator side generates for a CancelRound (36 characters; the column leaves room).
CANCEL_UUID_LENGTH = 64

# Who asked for a CancelRound (operator staff's name, as the admin API records it).
OPERATOR_NAME_LENGTH = 256

# A word of the provider integration: a call's kind ("GetRoundStatus"), a round status the provider
# reports ("CompleteInProcess"), a stale-round sweep's outcome ("unknown-at-provider").
PROVIDER_WORD_LENGTH = 32

# --------------------------------------------------------------------------- money

# The largest amount accepted in one transaction, in major units (exclusive). Far above any
# real stake, far below what the bigint columns can hold: MAX_AMOUNT * 10**MAX_MINOR_DIGITS
# is 10**16 minor units, and a bigint holds 9.2 * 10**18.
MAX_AMOUNT = Decimal(10) ** 12

# The most digits after the decimal point of any currency the wallet holds (CLF, UYW: 4).
MAX_MINOR_DIGITS = 4

# The bigint range of the money columns (amount, balance, balance_after), in minor units.
BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)
