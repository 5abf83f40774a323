"""The lock order of the money operations on PostgreSQL: provider reference first, then the player."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, text

from tests.conftest import Operator, Provider, make_app


def test_a_callback_waiting_for_its_reference_holds_no_player_lock(postgres_url: str):
    """Bet, Result and Refund take the reference's advisory lock before the player's row lock:
    while a Bet waits for its reference, the player's row stays free."""
    app = make_app(postgres_url)
    Operator(app.test_client()).open_player()
    engine = create_engine(postgres_url)
    answers: list[dict] = []
    with engine.connect() as holder, engine.connect() as probe:
        # The reference's lock, as wallet_open takes it (wallet/ledger/sql/opening.sql).
        holder.execute(text("SELECT pg_advisory_xact_lock(1470, hashtext('order-1'))"))
        bet = threading.Thread(target=lambda: answers.append(
            Provider(app.test_client()).call("Bet", reference="order-1", amount="1.00")))
        bet.start()
        try:
            time.sleep(0.5)
            assert bet.is_alive() and not answers  # waiting for the reference
            free = probe.execute(
                text("SELECT id FROM players WHERE user_id = 'player-1' FOR UPDATE NOWAIT")
            ).first()
            assert free is not None
            probe.rollback()
        finally:
            holder.rollback()  # releases the reference
            bet.join(timeout=30)
    assert answers and answers[0]["error"] == 0
    app.extensions["wallet.engine"].dispose()
    engine.dispose()
