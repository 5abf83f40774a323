-- The reversal of a bet: the rule behind Refund and Cancel, exactly once per bet.
-- (docs/protocol.md, "Refund" and "Cancel")
--
-- The heart of the wallet. Matching, in order:
--   1. a bet with this reference: credit its amount back (a new entry linked
--      to the bet), cancel its round; unless the round is settled (3);
--   2. Refund only: no such bet, but the player's round `p_round_id` has bets
--      not yet reversed: reverse all of them under this reference;
--   3. nothing matches: record the reversal anyway, moving nothing, so that a
--      Bet with this reference arriving later is refused (3). A Cancel leaves
--      the round it names as it is.
-- Refund and Cancel share one key per bet: the reference's lock, and at most
-- one reversal entry (kind 'refund' or 'cancel') per reference, which a unique
-- index enforces. So any mix of Refunds and Cancels of one bet, in any order and
-- concurrently, reverses it once, and each of them answers as the first did:
-- same transactionId, same description. Every answer echoes the reference. Paid
-- to frozen players, under any session, in any game.
-- Outputs: see check.sql; locks: see opening.sql.
CREATE OR REPLACE FUNCTION wallet_reverse(
    p_kind text, p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text, p_amount numeric,
    p_round_id text, p_session_id text, p_provider_id text, p_game_id text, p_game_name text,
    p_round_details text, p_bonus_code text, p_provider_ts text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql  -- no SET of its own: it runs inside wallet_refund or wallet_cancel, which set it
AS $$
DECLARE
  v_open record;
  v_player players;
  v_round rounds;
  v_has_round boolean := false;
  v_row record;
  -- the bet and the refund already under this reference (scalars: see bet.sql)
  v_has_bet boolean := false;
  v_bet_id bigint;
  v_bet_amount bigint;
  v_bet_round_pk bigint;
  v_bet_reversed_by bigint;
  v_has_earlier boolean := false;
  v_earlier_id bigint;
  v_earlier_amount bigint;
  v_earlier_balance bigint;
  v_earlier_currency text;
  v_earlier_reversed boolean;
  v_has_win boolean := false;
  v_owner text;
  v_known_round text;
  v_given bigint;
  v_ids bigint[];
  v_amounts bigint[];
  v_total bigint;
  v_cancel bigint;
  v_tx bigint;
  v_balance bigint;
  v_description text;
BEGIN
  SELECT * INTO v_open FROM wallet_open(p_uuid, p_body_hash, p_reference, p_reference, p_user_id, true);
  IF v_open.o_stored IS NOT NULL THEN
    o_error := v_open.o_error; o_body := v_open.o_stored;
    RETURN;
  END IF;
  v_player := v_open.o_player;

  -- What the reference already holds (a new snapshot: it sees what the lock's last holder wrote).
  FOR v_row IN SELECT * FROM wallet_reference_entries e WHERE e.reference = p_reference LOOP
    IF v_row.kind = 'bet' THEN
      v_has_bet := true;
      v_bet_id := v_row.id; v_bet_amount := v_row.amount; v_bet_round_pk := v_row.round_pk;
      v_bet_reversed_by := v_row.reversed_by;
      v_known_round := v_row.round_id;  -- the bet's round first
      v_owner := coalesce(v_owner, v_row.user_id);
    ELSIF v_row.kind IN ('refund', 'cancel') THEN
      v_has_earlier := true;
      v_earlier_id := v_row.id; v_earlier_amount := v_row.amount; v_earlier_balance := v_row.balance_after;
      v_earlier_currency := v_row.currency;
      v_owner := v_row.user_id;  -- the refund's owner first
      IF NOT v_has_bet THEN
        v_known_round := v_row.round_id;
      END IF;
    ELSIF v_row.kind <> 'adjustment' THEN  -- a win or a prize
      v_has_win := true;
    END IF;
  END LOOP;
  IF v_has_earlier THEN  -- did the first refund reverse anything? (its answer said so)
    v_earlier_reversed := EXISTS (SELECT 1 FROM reversals rv WHERE rv.refund_id = v_earlier_id);
  END IF;

  -- Checks, in order; a refusal writes nothing but its stored answer.
  IF v_owner IS NOT NULL AND v_owner <> p_user_id THEN
    o_error := 7; v_description := 'Reference belongs to another player';
  ELSIF v_has_win THEN  -- recording it would make the Result's own retransmissions answer 7
    o_error := 7; v_description := 'Reference already used by a result';
  ELSIF v_player.id IS NULL THEN
    o_error := 100; v_description := wallet_unknown_player(p_user_id);
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := wallet_currency_error(p_currency, v_player.currency);
  ELSE
    IF p_amount IS NOT NULL THEN
      v_given := wallet_to_minor(p_amount, v_player.currency);
      IF v_given IS NULL THEN
        o_error := 10; v_description := wallet_precision_error(v_player.currency);
      END IF;
    END IF;
    IF o_error IS NOT NULL THEN
      NULL;
    ELSIF v_has_bet AND v_given IS NOT NULL AND v_given <> -v_bet_amount THEN
      o_error := 10; v_description := 'Amount differs from the bet''s amount';
    ELSIF p_round_id IS NOT NULL AND v_known_round IS NOT NULL AND v_known_round <> p_round_id THEN
      o_error := 7; v_description := 'Reference already used in another round';
    ELSIF v_has_earlier AND NOT v_has_bet AND v_given IS NOT NULL AND v_given <> v_earlier_amount
          AND v_earlier_reversed THEN
      -- a round refund retransmitted with another amount (a refund of nothing stores no amount)
      o_error := 7; v_description := 'Reference already used by a refund of another amount';
    END IF;
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, p_kind, p_user_id, p_reference, p_body_hash, o_error,
                              wallet_answer(o_error, v_description, p_reference), p_now);
    RETURN;
  END IF;

  o_error := 0;
  IF v_has_earlier THEN  -- a retransmission of this refund: answer as the first time
    o_body := wallet_remember(p_uuid, p_kind, p_user_id, p_reference, p_body_hash, 0, wallet_answer(
      0,
      CASE WHEN v_earlier_reversed THEN 'Success'
           ELSE 'Success: no bet with this reference or round, nothing refunded' END,
      p_reference, v_earlier_id, v_earlier_currency, v_earlier_balance), p_now);
    RETURN;
  END IF;

  IF v_has_bet THEN  -- path 1: the bet with this reference
    SELECT * INTO v_round FROM rounds WHERE id = v_bet_round_pk FOR UPDATE;
    v_has_round := true;
    IF v_bet_reversed_by IS NOT NULL THEN  -- refunded already, by a round refund
      SELECT t.id, t.balance_after INTO v_tx, v_balance FROM transactions t WHERE t.id = v_bet_reversed_by;
      o_body := wallet_remember(p_uuid, p_kind, p_user_id, p_reference, p_body_hash, 0,
                                wallet_answer(0, 'Success', p_reference, v_tx, v_player.currency, v_balance), p_now);
      RETURN;
    END IF;
    IF v_round.settled THEN  -- a Result or an EndRound: see the rounds table's comment
      o_error := 3; v_description := 'Round already settled; a bet with a result is not refundable';
    ELSE
      v_ids := ARRAY[v_bet_id]; v_amounts := ARRAY[-v_bet_amount]; v_total := -v_bet_amount;
    END IF;
  ELSIF p_round_id IS NOT NULL AND p_kind = 'refund' THEN  -- path 2: the round's bets not refunded yet
    SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
    v_has_round := FOUND;
    IF v_has_round THEN
      -- By the round's key only (see reference_entries.sql): `kind` and the reversal are read per entry.
      SELECT array_agg(e.id ORDER BY e.id) FILTER (WHERE e.open),
             array_agg(-e.amount ORDER BY e.id) FILTER (WHERE e.open), sum(-e.amount) FILTER (WHERE e.open)
      INTO v_ids, v_amounts, v_total
      FROM (SELECT t.id, t.amount,
                   t.kind = 'bet' AND (SELECT rv.bet_id FROM reversals rv WHERE rv.bet_id = t.id) IS NULL AS open
            FROM transactions t WHERE t.round_pk = v_round.id) e;
      IF v_ids IS NULL THEN
        NULL;
      ELSIF v_given IS NOT NULL AND v_given <> v_total THEN
        o_error := 10; v_description := 'Amount differs from the round''s bets';
      ELSIF v_round.settled THEN  -- a Result or an EndRound: see the rounds table's comment
        o_error := 3; v_description := 'Round already settled; not refundable';
      END IF;
    END IF;
  END IF;
  IF o_error <> 0 THEN
    o_body := wallet_remember(p_uuid, p_kind, p_user_id, p_reference, p_body_hash, o_error,
                              wallet_answer(o_error, v_description, p_reference), p_now);
    RETURN;
  END IF;

  IF v_ids IS NOT NULL THEN  -- reverse the bets as one refund entry, and cancel the round
    v_balance := v_player.balance + v_total;
    v_tx := wallet_post(
      v_player.id, v_player.balance, p_kind, v_total, v_player.currency, p_reference, v_round.id,
      p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
      p_provider_ts, NULL, v_ids, v_amounts,
      CASE WHEN v_round.status <> 'cancelled' THEN v_round.id END, p_now);
    o_body := wallet_answer(0, 'Success', p_reference, v_tx, v_player.currency, v_balance);
    o_moved := v_total;
  ELSE  -- path 3: nothing to reverse; record the reversal so that a late Bet with it gets 3
    IF p_kind = 'cancel' THEN
      NULL;  -- a Cancel never touches a round its reference does not lead to
    ELSIF p_round_id IS NOT NULL AND NOT v_has_round THEN
      INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
      VALUES (p_round_id, v_player.id, p_game_id, 'cancelled', false, p_now, p_now)
      RETURNING * INTO v_round;
      v_has_round := true;
    ELSIF v_has_round AND v_round.status = 'open' AND NOT v_round.has_result THEN
      v_cancel := v_round.id;
    END IF;
    v_balance := v_player.balance;
    v_tx := wallet_post(
      v_player.id, v_player.balance, p_kind, 0, v_player.currency, p_reference,
      CASE WHEN v_has_round THEN v_round.id END,
      p_uuid, p_session_id, p_provider_id, p_game_id, p_game_name, p_round_details, p_bonus_code,
      p_provider_ts, 'no matching bet: nothing refunded', NULL, NULL, v_cancel, p_now);
    o_body := wallet_answer(0, 'Success: no bet with this reference or round, nothing refunded',
                            p_reference, v_tx, v_player.currency, v_balance);
    o_moved := 0;
  END IF;
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, p_kind, p_user_id, p_reference, p_body_hash, 0, o_body, p_now);
END
$$;
