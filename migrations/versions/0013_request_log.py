"""The request log, partitioned by UTC day and searchable (docs/operations.md, "Request log").

`requests` becomes a table partitioned by RANGE on `day` (the UTC date of the
answer): partitions of whole UTC days (one day each, or a few days each when
many days are kept, so that a callback's uuid look-up probes about eight),
created ahead by `wallet_request_partitions`, a DEFAULT partition as the safety
net, old days dropped whole by
`wallet_request_prune` (`flask wallet prune-requests`). It gains what staff
search by: `user_id`, `reference`, `error`, `description` (and an `id` that
orders rows written in one microsecond). A row with a `response` is a stored
answer, unique per (uuid, day); one without is only a record (an answer 100, a
callback refused before the database). Existing rows are copied (their error
and description read from their answer; player and reference unknown, left
NULL); going down keeps the first stored answer of each uuid.

The copy takes time in proportion to the old log and holds its lock meanwhile
(docs/operations.md, "Schema changes without downtime": prune the old log to
the retention window first on a large one).

Installs the rulebook frozen in `0013/`; going down reinstalls 0011's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from alembic import op

from migrations.replaceable import drop_rulebook, execute_script, snapshot

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILES = (
    "money.sql", "answers.sql", "requests.sql", "opening.sql", "reference_entries.sql", "post.sql", "limits.sql",
    "check.sql", "balance.sql", "bet.sql", "result.sql", "reversal.sql", "refund.sql", "cancel.sql",
    "endround.sql", "prizes.sql", "sessions.sql", "adjust.sql",
)
# Partitions created ahead of today, each of SPAN days, as the app and prune-requests do
# (wallet/ledger/request_log.py; the days kept come from WALLET_REQUEST_LOG_DAYS, as for the app).
AHEAD_DAYS = 7
_TODAY = "(now() AT TIME ZONE 'UTC')::date"

_CREATE = """
CREATE SEQUENCE requests_id_seq AS bigint;
CREATE TABLE requests (
    id bigint NOT NULL DEFAULT nextval('requests_id_seq'),
    day date NOT NULL,
    created_at timestamp with time zone NOT NULL,
    uuid varchar(128),
    method varchar(16) NOT NULL,
    user_id varchar(128),
    reference varchar(128),
    error integer NOT NULL,
    description text,
    body_hash varchar(64),
    response text
) PARTITION BY RANGE (day);
ALTER SEQUENCE requests_id_seq OWNED BY requests.id;
CREATE UNIQUE INDEX uq_requests_uuid_day ON requests (uuid, day) WHERE response IS NOT NULL;
CREATE INDEX ix_requests_created_at_id ON requests (created_at, id);
CREATE INDEX ix_requests_reference_created_at ON requests (reference, created_at, id) WHERE reference IS NOT NULL;
CREATE INDEX ix_requests_user_id_created_at ON requests (user_id, created_at, id) WHERE user_id IS NOT NULL;
CREATE INDEX ix_requests_error_created_at ON requests (error, created_at, id) WHERE error <> 0;
CREATE TABLE requests_default PARTITION OF requests DEFAULT;
"""


def _span() -> int:
    """Days per partition for the days the wallet keeps (a value the app would refuse: the default's)."""
    from wallet.ledger.request_log import span_days

    raw = os.environ.get("WALLET_REQUEST_LOG_DAYS", "").strip()
    return span_days(int(raw) if raw.isdigit() and int(raw) >= 1 else 30)


def upgrade() -> None:
    op.execute("ALTER TABLE requests RENAME TO requests_old")
    op.execute("ALTER TABLE requests_old RENAME CONSTRAINT pk_requests TO pk_requests_old")
    execute_script(_CREATE)
    drop_rulebook()
    execute_script(snapshot("0013", FILES))
    op.execute(f"SELECT count(*) FROM wallet_request_partitions({_TODAY}, {AHEAD_DAYS}, {_span()})")
    # Old days land in the default partition; the second call gives each its own partition.
    op.execute("""
        INSERT INTO requests (day, created_at, uuid, method, error, description, body_hash, response)
        SELECT (created_at AT TIME ZONE 'UTC')::date, created_at, uuid, method,
               (response::json ->> 'error')::integer, response::json ->> 'description', body_hash, response
        FROM requests_old ORDER BY created_at
    """)
    op.execute(f"SELECT count(*) FROM wallet_request_partitions({_TODAY}, {AHEAD_DAYS}, {_span()})")
    op.execute("DROP TABLE requests_old")


def downgrade() -> None:
    drop_rulebook()
    execute_script(snapshot("0011", FILES))
    op.execute("""
        CREATE TABLE requests_old (
            uuid varchar(128) NOT NULL,
            method varchar(16) NOT NULL,
            body_hash varchar(64) NOT NULL,
            response text NOT NULL,
            created_at timestamp with time zone NOT NULL,
            CONSTRAINT pk_requests PRIMARY KEY (uuid)
        )
    """)
    op.execute("""
        INSERT INTO requests_old (uuid, method, body_hash, response, created_at)
        SELECT DISTINCT ON (uuid) uuid, method, body_hash, response, created_at
        FROM requests WHERE response IS NOT NULL ORDER BY uuid, day
    """)
    op.execute("DROP TABLE requests")  # its partitions and its sequence with it
    op.execute("ALTER TABLE requests_old RENAME TO requests")
