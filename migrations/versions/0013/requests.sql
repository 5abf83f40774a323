-- The request log: every callback the wallet answered, and the stored answer that replays a uuid.
--
-- A callback's answer is stored in the same transaction as the work it
-- describes, so a replayed uuid gets the first answer back and the money cannot
-- move twice. `requests` is partitioned by UTC day (`day`, one partition per day,
-- requests_YYYYMMDD, and requests_default as the safety net), so that old days
-- are dropped whole (wallet_request_prune). A row with a `response` is a stored
-- answer: (uuid, day) is unique among those, so two workers racing with one uuid
-- on one day serialise on that key, and the loser rolls back all it did. A row
-- without one is only a record for staff (an answer 100, which must not be
-- replayed, or a request refused before the database: wallet/ledger/request_log.py).

-- The answer stored under `p_uuid`, as a request with body hash `p_body_hash`
-- gets it: the answer itself, or 5 when the uuid was used for another request
-- (echoing `p_echo`, the reference a Refund answer carries); NULL for a new uuid.
-- Every kept partition is searched, so a uuid retried across midnight UTC still
-- replays; that costs one index probe per partition on every callback, which is why
-- partitions span several days when many days are kept (wallet_request_partitions).
-- (Two stored answers for one uuid exist only after a race across midnight: either
-- was a first answer.)
-- Helpers return one value, so that callers assign their result (a "simple
-- expression" for PL/pgSQL) instead of running a SELECT through the executor.
CREATE OR REPLACE FUNCTION wallet_stored(p_uuid text, p_body_hash text, p_echo text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_hash text;
  v_response text;
BEGIN
  SELECT r.body_hash, r.response INTO v_hash, v_response
  FROM requests r WHERE r.uuid = p_uuid AND r.response IS NOT NULL
  LIMIT 1;
  IF NOT FOUND THEN
    RETURN NULL;
  ELSIF v_hash = p_body_hash THEN
    RETURN v_response;
  END IF;
  RETURN wallet_answer(5, 'uuid already used for a different request', p_echo);
END
$$;

-- Store a final answer under its uuid, with what staff search it by (player,
-- reference, the error and description answered), and return it. 100 ("retry")
-- is recorded but never stored as an answer: the provider's retry must be able to
-- pass. A concurrent transaction that stored an answer first makes this one fail
-- with SQLSTATE WL409, which rolls back everything it did; the caller then calls
-- again and meets the stored answer (wallet/ledger/functions.py).
CREATE OR REPLACE FUNCTION wallet_remember(p_uuid text, p_method text, p_user_id text, p_reference text,
                                           p_body_hash text, p_error integer, p_body text,
                                           p_now timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_answer json := p_body::json;
BEGIN
  IF p_uuid IS NULL THEN  -- not a callback (every callback has one): the worker's warm-up
    RETURN p_body;
  END IF;
  INSERT INTO requests (day, created_at, uuid, method, user_id, reference, error, description, body_hash, response)
  VALUES ((p_now AT TIME ZONE 'UTC')::date, p_now, p_uuid, p_method, p_user_id, p_reference,
          (v_answer ->> 'error')::integer, v_answer ->> 'description', p_body_hash,
          CASE WHEN p_error <> 100 THEN p_body END)
  ON CONFLICT (uuid, day) WHERE response IS NOT NULL DO NOTHING;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'uuid already answered by a concurrent request' USING ERRCODE = 'WL409';
  END IF;
  RETURN p_body;
END
$$;

-- The partitions of `requests` with their bounds: days [o_from, o_to).
CREATE OR REPLACE FUNCTION wallet_request_spans(OUT o_name text, OUT o_from date, OUT o_to date)
RETURNS SETOF record
LANGUAGE sql STABLE AS $$
  SELECT c.relname::text, m[1]::date, m[2]::date
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
       regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([0-9-]+)''\) TO \(''([0-9-]+)''\)') AS m
  WHERE i.inhparent = 'requests'::regclass AND m IS NOT NULL  -- (not the default partition)
  ORDER BY 2
$$;

-- Create the partitions of `requests` missing for the days p_today to p_today +
-- p_ahead, and for every day that has rows in the default partition (rows written
-- on a day that had no partition yet: moved into the new one, so that the day can
-- later be dropped whole). A partition spans p_span days (UTC midnight to UTC
-- midnight), aligned on multiples of p_span days since 2000-01-03 and cut short
-- where another partition already begins or ends: every callback probes every
-- partition for its uuid (wallet_stored), so the wallet keeps about eight of them
-- for the days it keeps (wallet/ledger/request_log.py chooses p_span). Idempotent;
-- returns the partitions created (or, with p_dry_run, those it would create). Run
-- by the migration, at start-up and by `prune-requests`, serialised by an advisory
-- lock. Creating a partition locks `requests` for a moment: lock_timeout makes it
-- give up rather than queue the callbacks behind a long reader (the next run
-- creates it; p_ahead leaves days of slack).
CREATE OR REPLACE FUNCTION wallet_request_partitions(p_today date, p_ahead integer, p_span integer DEFAULT 1,
                                                     p_dry_run boolean DEFAULT false) RETURNS SETOF text
LANGUAGE plpgsql
SET lock_timeout = '5s'
AS $$
DECLARE
  v_day date;
  v_from date;
  v_to date;
  v_name text;
  v_moved bigint;
  v_planned daterange[] := '{}';
BEGIN
  IF p_span IS NULL OR p_span < 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a partition spans at least 1 day, not ' || coalesce(p_span::text, 'NULL');
  END IF;
  PERFORM pg_advisory_xact_lock(1470, hashtext('requests partitions'));
  FOR v_day IN
    SELECT d::date FROM generate_series(p_today, p_today + p_ahead, interval '1 day') d
    UNION SELECT DISTINCT r.day FROM requests_default r
    ORDER BY 1
  LOOP
    CONTINUE WHEN EXISTS (SELECT FROM wallet_request_spans() s WHERE v_day >= s.o_from AND v_day < s.o_to)
               OR EXISTS (SELECT FROM unnest(v_planned) r WHERE r @> v_day);
    v_from := v_day - mod(mod(v_day - date '2000-01-03', p_span) + p_span, p_span);
    v_to := v_from + p_span;
    SELECT greatest(v_from, max(s.o_to)) INTO v_from FROM wallet_request_spans() s WHERE s.o_to <= v_day;
    SELECT least(v_to, min(s.o_from)) INTO v_to FROM wallet_request_spans() s WHERE s.o_from > v_day;
    SELECT greatest(v_from, max(upper(r))) INTO v_from FROM unnest(v_planned) r WHERE upper(r) <= v_day;
    v_name := 'requests_' || to_char(v_from, 'YYYYMMDD');
    RETURN NEXT v_name;
    IF p_dry_run THEN
      v_planned := v_planned || daterange(v_from, v_to);
      CONTINUE;
    END IF;
    -- No callback may write these days into the default partition between the move and the creation.
    LOCK TABLE requests_default IN EXCLUSIVE MODE;
    v_moved := 0;
    IF EXISTS (SELECT FROM requests_default r WHERE r.day >= v_from AND r.day < v_to) THEN
      CREATE TEMP TABLE IF NOT EXISTS wallet_moved_requests (LIKE requests) ON COMMIT DROP;
      WITH moved AS (DELETE FROM requests_default r WHERE r.day >= v_from AND r.day < v_to RETURNING r.*)
      INSERT INTO wallet_moved_requests SELECT * FROM moved;
      GET DIAGNOSTICS v_moved = ROW_COUNT;
    END IF;
    -- (quote_* rather than format(): the migration sends this file through a driver that reads percent signs)
    EXECUTE 'CREATE TABLE ' || quote_ident(v_name) || ' PARTITION OF requests FOR VALUES FROM ('
            || quote_literal(v_from) || ') TO (' || quote_literal(v_to) || ')';
    IF v_moved > 0 THEN
      INSERT INTO requests SELECT * FROM wallet_moved_requests;
      TRUNCATE wallet_moved_requests;
    END IF;
  END LOOP;
END
$$;

-- Drop, whole, the partitions of `requests` whose every day is older than p_days
-- days before p_today (the days kept: p_today and the p_days before it, so an
-- answer stays replayable for at least p_days x 24 hours; a partition of several
-- days leaves with its last day). Returns the partitions dropped (or, with
-- p_dry_run, those it would drop), oldest first.
CREATE OR REPLACE FUNCTION wallet_request_prune(p_today date, p_days integer,
                                                p_dry_run boolean DEFAULT false) RETURNS SETOF text
LANGUAGE plpgsql
SET lock_timeout = '5s'
AS $$
DECLARE
  v_name text;
BEGIN
  IF p_days IS NULL OR p_days < 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'the request log keeps at least 1 day, not ' || coalesce(p_days::text, 'NULL');
  END IF;
  PERFORM pg_advisory_xact_lock(1470, hashtext('requests partitions'));
  FOR v_name IN
    SELECT s.o_name FROM wallet_request_spans() s WHERE s.o_to <= p_today - p_days ORDER BY s.o_from
  LOOP
    RETURN NEXT v_name;
    CONTINUE WHEN p_dry_run;
    EXECUTE 'DROP TABLE ' || quote_ident(v_name);
  END LOOP;
END
$$;
