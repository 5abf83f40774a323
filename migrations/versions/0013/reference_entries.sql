-- What a provider reference already holds: each ledger entry under it with its
-- owner, its round's id and the refund that reversed it.
--
-- Each joined column is a scalar subquery on a key, not a join: PL/pgSQL keeps
-- a generic plan per session, and one made from the statistics of a new,
-- nearly empty database read the whole of reversals' primary key for every
-- look-up (measured: ~2,500 index entries per Refund after 10,000 refunds). A
-- scalar subquery on a key can only run as a look-up by that key.
CREATE OR REPLACE VIEW wallet_reference_entries AS
SELECT t.reference, t.id, t.kind, t.amount, t.balance_after, t.currency, t.round_pk,
       (SELECT o.user_id FROM players o WHERE o.id = t.player_id) AS user_id,
       (SELECT rd.round_id FROM rounds rd WHERE rd.id = t.round_pk) AS round_id,
       (SELECT rv.refund_id FROM reversals rv WHERE rv.bet_id = t.id) AS reversed_by
FROM transactions t;
