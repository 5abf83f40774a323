-- Wins outside a round's Result: PromoWin, JackpotWin and BonusWin.
-- (docs/protocol.md, "PromoWin", "JackpotWin", "BonusWin")
--
-- Money that no Bet paid for, each credited as an entry of its own kind
-- ('promo', 'jackpot', 'bonus') and idempotent by its reference. A
-- retransmission (any uuid, same content: the same player and amount, and the
-- same campaign, round and jackpot, or bonus code) moves nothing and answers with
-- the first transactionId and the player's CURRENT cash, as the provider's pages
-- for these methods ask. The same reference with other content, or naming an
-- entry of another kind, is 7. Paid to frozen players, in any game, under any
-- session. Amounts must be above zero (10).
--
-- BonusWin: the provider's later pages pay free-round wins through Result, so
-- crediting BonusWin as well could pay twice. The operator chooses with
-- WALLET_BONUS_WIN, which reaches the database as the session setting
-- `wallet.bonus_win`: 'credit' credits it; anything else (the default,
-- 'record') records it for 0.00 with the announced amount kept beside it
-- (`announced_amount`), for staff and reconciliation to see.
--
-- The shared rule is wallet_prize; the three entry points name the kind. Their
-- arguments are the same, so that one list serves all three (a kind ignores the
-- fields that are not its own). Outputs and SET enable_seqscan: see check.sql.
CREATE OR REPLACE FUNCTION wallet_prize(
    p_kind text, p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text,
    p_amount numeric, p_round_id text, p_game_id text, p_session_id text, p_provider_id text,
    p_provider_ts text, p_campaign_id text, p_campaign_type text, p_jackpot_id text, p_details text,
    p_bonus_code text, p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql  -- no SET of its own: it runs inside its entry points, which set it
AS $$
DECLARE
  v_open record;
  v_player players;
  v_round rounds;
  v_row record;
  v_owner text;
  v_has_other boolean := false;
  v_has_same boolean := false;  -- scalars, not a record: see bet.sql
  v_same_id bigint;
  v_same_content boolean;
  v_amount bigint;
  v_credit bigint;
  v_tx bigint;
  v_description text;
BEGIN
  SELECT * INTO v_open FROM wallet_open(p_uuid, p_body_hash, NULL, p_reference, p_user_id, true);
  IF v_open.o_stored IS NOT NULL THEN
    o_error := v_open.o_error; o_body := v_open.o_stored;
    RETURN;
  END IF;
  v_player := v_open.o_player;
  IF v_player.id IS NOT NULL THEN
    v_amount := wallet_to_minor(p_amount, v_player.currency);
  END IF;

  FOR v_row IN
    SELECT t.id, t.kind, t.amount, t.announced_amount, t.campaign_id, t.jackpot_id, t.bonus_code, e.user_id,
           e.round_id
    FROM wallet_reference_entries e JOIN transactions t ON t.id = e.id
    WHERE e.reference = p_reference
  LOOP
    IF v_row.kind <> 'adjustment' THEN  -- staff references are not the provider's
      v_owner := coalesce(v_owner, v_row.user_id);
    END IF;
    IF v_row.kind = p_kind THEN
      v_has_same := true;
      v_same_id := v_row.id;
      v_same_content := v_row.user_id = p_user_id AND v_row.announced_amount = v_amount AND CASE p_kind
        WHEN 'promo' THEN v_row.campaign_id IS NULL OR v_row.campaign_id = p_campaign_id  -- NULL: a Result's
        WHEN 'jackpot' THEN v_row.round_id = p_round_id AND v_row.jackpot_id = p_jackpot_id
        ELSE v_row.bonus_code = p_bonus_code
      END;
    ELSIF v_row.kind <> 'adjustment' THEN
      v_has_other := true;
    END IF;
  END LOOP;

  IF v_owner IS NOT NULL AND v_owner <> p_user_id THEN
    o_error := 7; v_description := 'Reference belongs to another player';
  ELSIF v_player.id IS NULL THEN
    o_error := 100; v_description := wallet_unknown_player(p_user_id);
  ELSIF p_currency IS NOT NULL AND p_currency <> v_player.currency THEN
    o_error := 2; v_description := wallet_currency_error(p_currency, v_player.currency);
  ELSIF v_amount IS NULL THEN
    o_error := 10; v_description := wallet_precision_error(v_player.currency);
  ELSIF v_amount <= 0 THEN
    o_error := 10; v_description := 'Invalid amount: amount must be greater than zero';
  ELSIF v_has_other THEN
    o_error := 7; v_description := 'Reference already used by another kind of entry';
  ELSIF v_has_same AND NOT v_same_content THEN
    o_error := 7; v_description := 'Reference already used by a different ' || p_kind || ' win';
  ELSIF v_has_same THEN  -- a retransmission: the first transactionId, the current cash
    o_error := 0;
    o_body := wallet_remember(p_uuid, p_kind || 'win', p_user_id, p_reference, p_body_hash, 0,
                              wallet_answer(0, 'Success', NULL, v_same_id, v_player.currency, v_player.balance),
                              p_now);
    RETURN;
  ELSIF p_kind = 'jackpot' THEN  -- linked to the player's round: never a cancelled one
    SELECT * INTO v_round FROM rounds WHERE player_id = v_player.id AND round_id = p_round_id FOR UPDATE;
    IF v_round.status = 'cancelled' THEN
      o_error := 3; v_description := 'Round is cancelled';
    ELSIF v_round.id IS NULL THEN  -- a round never seen: paid, and recorded as ended
      INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
      VALUES (p_round_id, v_player.id, p_game_id, 'ended', false, p_now, p_now)
      RETURNING * INTO v_round;
    END IF;
  END IF;
  IF o_error IS NOT NULL THEN
    o_body := wallet_remember(p_uuid, p_kind || 'win', p_user_id, p_reference, p_body_hash, o_error,
                              wallet_answer(o_error, v_description, NULL), p_now);
    RETURN;
  END IF;

  v_credit := CASE WHEN p_kind = 'bonus' AND current_setting('wallet.bonus_win', true) IS DISTINCT FROM 'credit'
                   THEN 0 ELSE v_amount END;
  v_tx := wallet_post(
    v_player.id, v_player.balance, p_kind, v_credit, v_player.currency, p_reference, v_round.id,
    p_uuid, p_session_id, p_provider_id, p_game_id, NULL, p_details, p_bonus_code, p_provider_ts,
    CASE WHEN v_credit = 0 THEN 'bonus win recorded, not credited (WALLET_BONUS_WIN=record)' END,
    NULL, NULL, NULL, p_now, p_campaign_id, p_campaign_type, p_jackpot_id, v_amount,
    CASE WHEN v_round.id IS NULL THEN p_round_id END);  -- a roundId linked to no round: kept as given
  o_error := 0;
  o_moved := v_credit;
  o_currency := v_player.currency;
  o_body := wallet_remember(p_uuid, p_kind || 'win', p_user_id, p_reference, p_body_hash, 0,
                            wallet_answer(0, 'Success', NULL, v_tx, v_player.currency, v_player.balance + v_credit),
                            p_now);
END
$$;

-- PromoWin: a campaign prize (tournament, community jackpot, cashback ...), tied to no
-- round (a given roundId is stored, never checked or changed).
CREATE OR REPLACE FUNCTION wallet_promowin(
    p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text, p_amount numeric,
    p_round_id text, p_game_id text, p_session_id text, p_provider_id text, p_provider_ts text,
    p_campaign_id text, p_campaign_type text, p_jackpot_id text, p_details text, p_bonus_code text,
    p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  SELECT * INTO o_error, o_body, o_moved, o_currency
  FROM wallet_prize('promo', p_uuid, p_body_hash, p_user_id, p_reference, p_currency, p_amount, p_round_id,
                    p_game_id, p_session_id, p_provider_id, p_provider_ts, p_campaign_id, p_campaign_type,
                    NULL, NULL, NULL, p_now);
END
$$;

-- JackpotWin: a jackpot prize, sent after its round is over; linked to the player's round.
CREATE OR REPLACE FUNCTION wallet_jackpotwin(
    p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text, p_amount numeric,
    p_round_id text, p_game_id text, p_session_id text, p_provider_id text, p_provider_ts text,
    p_campaign_id text, p_campaign_type text, p_jackpot_id text, p_details text, p_bonus_code text,
    p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  SELECT * INTO o_error, o_body, o_moved, o_currency
  FROM wallet_prize('jackpot', p_uuid, p_body_hash, p_user_id, p_reference, p_currency, p_amount, p_round_id,
                    p_game_id, p_session_id, p_provider_id, p_provider_ts, NULL, NULL, p_jackpot_id, p_details,
                    NULL, p_now);
END
$$;

-- BonusWin: the total won in a free-round bonus; recorded or credited (see above).
CREATE OR REPLACE FUNCTION wallet_bonuswin(
    p_uuid text, p_body_hash text, p_user_id text, p_reference text, p_currency text, p_amount numeric,
    p_round_id text, p_game_id text, p_session_id text, p_provider_id text, p_provider_ts text,
    p_campaign_id text, p_campaign_type text, p_jackpot_id text, p_details text, p_bonus_code text,
    p_now timestamptz,
    OUT o_error integer, OUT o_body text, OUT o_moved bigint, OUT o_currency text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  SELECT * INTO o_error, o_body, o_moved, o_currency
  FROM wallet_prize('bonus', p_uuid, p_body_hash, p_user_id, p_reference, p_currency, p_amount, p_round_id,
                    p_game_id, p_session_id, p_provider_id, p_provider_ts, NULL, NULL, NULL, NULL, p_bonus_code,
                    p_now);
END
$$;
