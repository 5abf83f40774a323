-- The request log: one stored answer per callback uuid.
--
-- A callback's answer is stored in the same transaction as the work it
-- describes, so a replayed uuid gets the first answer back and the money cannot
-- move twice. The uuid is the primary key of `requests`: two workers racing with
-- one uuid serialise on that key, and the loser rolls back all it did.

-- The answer stored under `p_uuid`, as a request with body hash `p_body_hash`
-- gets it: the answer itself, or 5 when the uuid was used for another request
-- (echoing `p_echo`, the reference a Refund answer carries); NULL for a new uuid.
-- Helpers return one value, so that callers assign their result (a "simple
-- expression" for PL/pgSQL) instead of running a SELECT through the executor.
CREATE OR REPLACE FUNCTION wallet_stored(p_uuid text, p_body_hash text, p_echo text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_hash text;
  v_response text;
BEGIN
  SELECT r.body_hash, r.response INTO v_hash, v_response FROM requests r WHERE r.uuid = p_uuid;
  IF NOT FOUND THEN
    RETURN NULL;
  ELSIF v_hash = p_body_hash THEN
    RETURN v_response;
  END IF;
  RETURN wallet_answer(5, 'uuid already used for a different request', p_echo);
END
$$;

-- Store a final answer under its uuid and return it. 100 ("retry") is never
-- stored: the provider's retry must be able to pass. A concurrent transaction
-- that stored an answer first makes this one fail with SQLSTATE WL409, which
-- rolls back everything it did; the caller then calls again and meets the
-- stored answer (wallet/ledger/functions.py).
CREATE OR REPLACE FUNCTION wallet_remember(p_uuid text, p_method text, p_body_hash text, p_error integer,
                                           p_body text, p_now timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  IF p_error = 100 THEN
    RETURN p_body;
  END IF;
  INSERT INTO requests (uuid, method, body_hash, response, created_at)
  VALUES (p_uuid, p_method, p_body_hash, p_body, p_now)
  ON CONFLICT (uuid) DO NOTHING;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'uuid already answered by a concurrent request' USING ERRCODE = 'WL409';
  END IF;
  RETURN p_body;
END
$$;
