-- The opening every callback shares: the uuid's stored answer, the locks, the player.
--
-- Lock order, the same in every function so that concurrent ones cannot
-- deadlock: the provider reference (a transaction-scoped advisory lock, so that
-- two requests about one reference serialise whoever the player), then the
-- player's row (FOR UPDATE), then the round's row. Rounds belong to one player,
-- so a player's callbacks never touch another's rows.
--
-- p_also: a second reference the call writes under (a Result's promo win),
-- locked with the first in the order of their keys, so that two calls taking
-- both can never wait for each other.
--
-- o_stored: the answer already stored for this uuid (or 5), with its code in
-- o_error; the caller returns it and does nothing else. Otherwise o_stored is
-- NULL and o_player is the player's row (all NULL for an unknown player),
-- locked when p_lock is true (the writers), read as is otherwise (Check, Balance).
CREATE OR REPLACE FUNCTION wallet_open(p_uuid text, p_body_hash text, p_echo text, p_reference text,
                                       p_user_id text, p_lock boolean, p_also text DEFAULT NULL,
                                       OUT o_stored text, OUT o_error integer, OUT o_player players)
LANGUAGE plpgsql AS $$
BEGIN
  o_stored := wallet_stored(p_uuid, p_body_hash, p_echo);
  IF o_stored IS NOT NULL THEN  -- a uuid answered before: its answer again (or 5)
    o_error := (o_stored::json ->> 'error')::integer;
    RETURN;
  END IF;
  -- 1470: the wallet's class of advisory locks; hashtext(): a reference's key.
  IF p_also IS NOT NULL AND hashtext(p_also) < hashtext(p_reference) THEN
    PERFORM pg_advisory_xact_lock(1470, hashtext(p_also));
  END IF;
  IF p_reference IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(1470, hashtext(p_reference));
  END IF;
  IF p_also IS NOT NULL AND hashtext(p_also) > hashtext(p_reference) THEN
    PERFORM pg_advisory_xact_lock(1470, hashtext(p_also));
  END IF;
  IF p_lock THEN
    SELECT * INTO o_player FROM players WHERE user_id = p_user_id FOR UPDATE;
  ELSE
    SELECT * INTO o_player FROM players WHERE user_id = p_user_id;
  END IF;
END
$$;
