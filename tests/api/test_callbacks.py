"""Every callback rule of docs/protocol.mdthrough HTTP."""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal

import pytest

from tests.conftest import Provider, make_app
from tests.support import callback_body
from wallet.callbacks.auth import sign


# ------------------------------------------------------------------ transport


@pytest.mark.parametrize("path", ["/V4/Balance", "/v4/balance", "/V4/BALANCE", "/v4/Balance"])
def test_paths_match_in_any_case(client, player, path):
    r = client.post(path, data=json.dumps(callback_body("Balance")))
    assert r.status_code == 200 and r.get_json()["error"] == 0


def test_unknown_path_is_404_and_other_http_verbs_are_not_callbacks(client):
    assert client.post("/V4/Withdraw", data="{}").status_code == 404
    assert client.post("/V5/Bet", data="{}").status_code == 404
    assert client.get("/V4/Bet").status_code == 405


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"', b"42", b"null", b"\xff\xfe\x00",
                                 b"[" * 100000 + b"]" * 100000])
def test_malformed_bodies_answer_7_with_http_200(provider, player, raw):
    assert provider.send("Bet", raw)["error"] == 7


def test_cash_is_a_json_number_with_the_currency_digits(client, operator):
    operator.open_player("yen", "JPY", deposit="1500")
    operator.open_player("dinar", "KWD", deposit="1.5")
    yen = client.post("/V4/Balance", data=json.dumps(callback_body("Balance", userId="yen", currency="JPY")))
    dinar = client.post("/V4/Balance", data=json.dumps(callback_body("Balance", userId="dinar", currency="KWD")))
    assert b'"cash":1500}' in yen.data
    assert b'"cash":1.500}' in dinar.data


def test_amounts_are_numbers_or_numeric_strings(provider, operator, player):
    assert provider.call("Bet", amount=100, roundId="r1")["cash"] == Decimal("900.00")
    assert provider.call("Bet", amount=10.0, roundId="r1")["cash"] == Decimal("890.00")
    assert provider.call("Bet", amount="13", roundId="r1")["cash"] == Decimal("877.00")
    raw = json.dumps(callback_body("Bet", roundId="r1")).replace('"10.00"', "0.1")  # never through a float
    assert provider.send("Bet", raw)["cash"] == Decimal("876.90")


@pytest.mark.parametrize("amount", ["10.001", -1, "-1", "1e400", "NaN", "ten", True])
def test_invalid_amounts_answer_10_and_move_nothing(provider, operator, player, amount):
    assert provider.call("Bet", amount=amount)["error"] == 10
    assert provider.send("Bet", json.dumps(callback_body("Bet")).replace('"10.00"', "1e400"))["error"] == 10
    assert provider.send("Bet", json.dumps(callback_body("Bet")).replace('"10.00"', "NaN"))["error"] == 10
    assert operator.balance() == Decimal("1000.00")


def test_yen_amounts_may_not_have_decimals(provider, operator):
    operator.open_player("yen", "JPY", deposit="1000")
    assert provider.call("Bet", userId="yen", currency="JPY", amount="1.5")["error"] == 10
    assert provider.call("Bet", userId="yen", currency="JPY", amount="15")["cash"] == Decimal(985)


def test_field_names_match_in_any_case(provider, player):
    body = {k.lower(): v for k, v in callback_body("Bet", amount="1.00").items()}
    assert provider.send("bet", body)["error"] == 0


@pytest.mark.parametrize("missing", ["userId", "uuid", "reference", "amount", "roundId", "currency"])
def test_missing_fields_answer_7(provider, operator, player, missing):
    assert provider.call("Bet", **{missing: None})["error"] == 7
    assert operator.balance() == Decimal("1000.00")


# ------------------------------------------------------------------ Check / Balance


def test_check_answers_0_2_6_and_100(provider, operator, player):
    assert provider.call("Check") == {"error": 0, "description": "Success"}
    assert provider.call("Check", currency="EUR")["error"] == 2
    assert provider.call("Check", userId="nobody")["error"] == 100
    operator.request("PATCH", "/players/player-1", json={"status": "frozen", "reason": "test"})
    assert provider.call("Check")["error"] == 6


def test_balance_reads_the_wallet(provider, operator, player):
    assert provider.call("Balance") == {"error": 0, "description": "Success", "currency": "USD",
                                        "cash": Decimal("1000.00")}
    operator.request("PATCH", "/players/player-1", json={"status": "frozen", "reason": "test"})
    assert provider.call("Balance")["error"] == 0
    assert provider.call("Balance", currency="EUR")["error"] == 2
    assert provider.call("Balance", userId="nobody")["error"] == 100


# ------------------------------------------------------------------ Bet


def test_bet_debits_and_answers_the_transaction(provider, operator, player):
    answer = provider.call("Bet", amount="10.50")
    assert answer["error"] == 0 and answer["description"] == "Success"
    assert answer["currency"] == "USD" and answer["cash"] == Decimal("989.50")
    assert isinstance(answer["transactionId"], str) and answer["transactionId"]
    assert operator.balance() == Decimal("989.50")


def test_bet_beyond_the_balance_answers_1_and_moves_nothing(provider, operator, player):
    assert provider.call("Bet", amount="1000.01")["error"] == 1
    assert operator.balance() == Decimal("1000.00")
    assert provider.call("Bet", amount="1000.00")["cash"] == Decimal("0.00")


def test_bet_refusals(provider, operator, player):
    assert provider.call("Bet", currency="EUR")["error"] == 2
    assert provider.call("Bet", userId="nobody")["error"] == 100
    operator.request("PATCH", "/players/player-1", json={"status": "frozen", "reason": "test"})
    assert provider.call("Bet")["error"] == 6
    operator.request("PATCH", "/players/player-1", json={"status": "active", "reason": "test"})
    assert provider.call("Bet")["error"] == 0
    assert operator.balance() == Decimal("990.00")


def test_bet_in_an_ended_or_cancelled_round_answers_3(provider, operator, player):
    provider.call("Bet", roundId="ended", reference="e1")
    assert provider.call("EndRound", roundId="ended")["error"] == 0
    assert provider.call("Bet", roundId="ended")["error"] == 3
    provider.call("Bet", roundId="cancelled", reference="c1")
    provider.call("Refund", reference="c1")
    assert provider.call("Bet", roundId="cancelled")["error"] == 3
    assert operator.balance() == Decimal("990.00")


def test_retransmitted_bet_moves_no_money_and_answers_as_the_first(provider, operator, player):
    first = provider.call("Bet", reference="bet-r", amount="5.00")
    again = provider.call("Bet", reference="bet-r", amount="5")  # new uuid, same transaction
    assert again == first
    assert operator.balance() == Decimal("995.00")


@pytest.mark.parametrize("change", [{"amount": "6.00"}, {"roundId": "other"}, {"userId": "player-2"}])
def test_reference_reused_with_other_content_answers_7(provider, operator, player, change):
    operator.open_player("player-2")
    provider.call("Bet", reference="bet-c", amount="5.00")
    assert provider.call("Bet", reference="bet-c", **{"amount": "5.00", **change})["error"] == 7
    assert operator.balance() == Decimal("995.00") and operator.balance("player-2") == Decimal("1000.00")


# ------------------------------------------------------------------ uuid


def test_replayed_uuid_returns_the_first_answer_and_changes_nothing(provider, operator, player):
    body = callback_body("Bet", amount="7.00")
    first = provider.send("Bet", body)
    provider.call("Bet", amount="1.00")
    assert provider.send("Bet", body) == first
    assert operator.balance() == Decimal("992.00")


def test_replayed_uuid_of_a_refused_request_returns_the_refusal(provider, operator, player):
    body = callback_body("Bet", amount="2000.00")
    assert provider.send("Bet", body)["error"] == 1
    operator.request("POST", "/players/player-1/adjustments", json={"amount": "5000", "reference": "d2", "reason": "x"})
    assert provider.send("Bet", body)["error"] == 1


def test_uuid_reused_with_another_body_answers_5_and_changes_nothing(provider, operator, player):
    body = callback_body("Bet", amount="7.00")
    provider.send("Bet", body)
    other = {**body, "reference": "another", "amount": "8.00"}
    assert provider.send("Bet", other)["error"] == 5
    assert provider.send("Result", {**body, "amount": "7.00"})["error"] == 5
    assert operator.balance() == Decimal("993.00")


# ------------------------------------------------------------------ Result / EndRound


def test_result_credits_and_zero_means_lost(provider, operator, player):
    provider.call("Bet", reference="b", roundId="r", amount="10")
    assert provider.call("Result", reference="w0", roundId="r", amount="0")["cash"] == Decimal("990.00")
    answer = provider.call("Result", reference="w1", roundId="r", amount="25.25")
    assert answer["error"] == 0 and answer["cash"] == Decimal("1015.25") and answer["transactionId"]


def test_result_is_paid_to_a_frozen_player_and_under_a_new_session(provider, operator, player):
    provider.call("Bet", reference="b", roundId="r", sessionId="old")
    operator.request("PATCH", "/players/player-1", json={"status": "frozen", "reason": "test"})
    assert provider.call("Result", reference="w", roundId="r", amount="30", sessionId="new")["error"] == 0
    assert operator.balance() == Decimal("1020.00")


def test_result_with_a_bet_reference_answers_7(provider, operator, player):
    provider.call("Bet", reference="same", roundId="r")
    assert provider.call("Result", reference="same", roundId="r", amount="30")["error"] == 7
    assert operator.balance() == Decimal("990.00")


def test_result_retransmitted_pays_once(provider, operator, player):
    first = provider.call("Result", reference="w", roundId="r", amount="30")
    assert provider.call("Result", reference="w", roundId="r", amount="30") == first
    assert provider.call("Result", reference="w", roundId="r", amount="31")["error"] == 7
    assert operator.balance() == Decimal("1030.00")


def test_result_for_a_cancelled_round_answers_3(provider, operator, player):
    provider.call("Bet", reference="b", roundId="r")
    provider.call("Refund", reference="b")
    assert provider.call("Result", reference="w", roundId="r", amount="30")["error"] == 3
    assert operator.balance() == Decimal("1000.00")


def test_end_round_is_repeatable_and_moves_no_money(provider, operator, player):
    provider.call("Bet", reference="b", roundId="r")
    first = provider.call("EndRound", roundId="r")
    assert first == {"error": 0, "description": "Success", "currency": "USD", "cash": Decimal("990.00")}
    assert provider.call("EndRound", roundId="r")["error"] == 0
    assert provider.call("EndRound", roundId="r", userId="nobody")["error"] == 100
    assert operator.balance() == Decimal("990.00")


# ------------------------------------------------------------------ security


def _signed_provider(database_url, **settings):
    app = make_app(database_url, **settings)
    return app, app.test_client()


def test_signature_required_when_a_secret_is_set(database_url):
    app, client = _signed_provider(database_url, callback_secret="top-secret")
    body = json.dumps(callback_body("Balance")).encode()
    assert client.post("/V4/Balance", data=body).get_json()["error"] == 5
    assert client.post("/V4/Balance", data=body, headers={"X-Signature": "00" * 32}).get_json()["error"] == 5
    assert client.post("/V4/Balance", data=body, headers={"X-Signature": sign("other", body)}).get_json()["error"] == 5
    good = client.post("/V4/Balance", data=body, headers={"X-Signature": sign("top-secret", body)}).get_json()
    assert good["error"] == 100  # authenticated; the player simply does not exist
    app.extensions["wallet.engine"].dispose()


def test_allow_list_answers_5_to_other_addresses(database_url):
    import ipaddress
    app, client = _signed_provider(database_url, allowed_networks=(ipaddress.ip_network("198.51.100.0/24"),))
    body = json.dumps(callback_body("Balance"))
    assert client.post("/V4/Balance", data=body, environ_base={"REMOTE_ADDR": "203.0.113.1"}).get_json()["error"] == 5
    spoofed = client.post("/V4/Balance", data=body, environ_base={"REMOTE_ADDR": "203.0.113.1"},
                          headers={"X-Forwarded-For": "198.51.100.1"})
    assert spoofed.get_json()["error"] == 5
    assert client.post("/V4/Balance", data=body, environ_base={"REMOTE_ADDR": "198.51.100.9"}).get_json()["error"] == 100
    app.extensions["wallet.engine"].dispose()


def test_oversized_bodies_are_refused_without_being_read(database_url):
    app, client = _signed_provider(database_url, max_body_bytes=512)
    big = json.dumps(callback_body("Bet", roundDetails="x" * 1000))
    r = client.post("/V4/Bet", data=big)
    assert r.status_code == 200 and r.get_json()["error"] == 7 and "large" in r.get_json()["description"]
    app.extensions["wallet.engine"].dispose()


def test_refund_answers_echo_the_reference_even_when_refused(provider, player):
    body = callback_body("Refund", reference="echo-me", userId=None)
    assert provider.send("Refund", body) == {"error": 7, "description": provider.send("Refund", body)["description"],
                                             "reference": "echo-me"}


def test_database_unreachable_answers_100(tmp_path):
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none")
    answer = Provider(app.test_client()).call("Bet")
    assert answer["error"] == 100
    app.extensions["wallet.engine"].dispose()


def test_while_the_database_is_down_each_failure_is_one_line_and_one_traceback_is_logged(caplog):
    """Every failed callback is logged with its uuid; its traceback (~10 KB) once per kind every 10 s."""
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none")
    provider = Provider(app.test_client())
    with caplog.at_level(logging.ERROR, logger="wallet.callbacks"):
        answers = [provider.call(method, uuid=f"down-{n}") for n, method in enumerate(["Bet", "Refund", "Bet"])]
    app.extensions["wallet.engine"].dispose()
    assert [a["error"] for a in answers] == [100, 100, 100]
    failures = [r for r in caplog.records if r.name == "wallet.callbacks" and r.levelno == logging.ERROR]
    assert [("down-%d" % n) in r.getMessage() for n, r in enumerate(failures)] == [True, True, True]
    assert [r.exc_info is not None for r in failures] == [True, False, False]
    assert all("OperationalError" in r.getMessage() and "\n" not in r.getMessage() for r in failures[1:])


def test_uuid_and_reference_are_per_request_not_per_player(provider, operator, player):
    operator.open_player("player-2")
    shared = uuid.uuid4().hex
    assert provider.call("Balance", uuid=shared)["error"] == 0
    assert provider.call("Balance", uuid=shared, userId="player-2")["error"] == 5


def test_a_retryable_answer_is_not_remembered_for_its_uuid(provider, operator):
    body = callback_body("Bet", userId="late-player", amount="1.00")
    assert provider.send("Bet", body)["error"] == 100  # player not found (yet): retry
    operator.open_player("late-player")
    assert provider.send("Bet", body)["error"] == 0  # the provider's retry of the same uuid goes through
    assert operator.balance("late-player") == Decimal("999.00")


def test_a_refund_refused_for_its_signature_still_echoes_the_reference(database_url):
    app, client = _signed_provider(database_url, callback_secret="top-secret")
    body = json.dumps(callback_body("Refund", reference="signed-ref"))
    answer = client.post("/V4/Refund", data=body, headers={"X-Signature": "bad"}).get_json()
    assert answer == {"error": 5, "description": answer["description"], "reference": "signed-ref"}
    app.extensions["wallet.engine"].dispose()


def test_players_sharing_a_round_id_never_touch_each_others_round(provider, operator, player):
    operator.open_player("player-2")
    provider.call("Bet", reference="a-bet", roundId="shared", amount="10")
    provider.call("Bet", userId="player-2", reference="b-bet", roundId="shared", amount="20")
    # player-2 settles and ends "its" round; player-1's round stays open and refundable
    assert provider.call("Result", userId="player-2", reference="b-win", roundId="shared", amount="5")["error"] == 0
    assert provider.call("EndRound", userId="player-2", roundId="shared")["error"] == 0
    assert provider.call("Refund", reference="a-bet")["error"] == 0
    assert provider.call("Bet", userId="player-2", reference="b-late", roundId="shared")["error"] == 3
    # a round refund reverses only the requesting player's bets
    provider.call("Bet", reference="a-2", roundId="shared-2", amount="1")
    provider.call("Bet", userId="player-2", reference="b-2", roundId="shared-2", amount="2")
    assert provider.call("Refund", reference="cancel-shared-2", roundId="shared-2")["cash"] == Decimal("1000.00")
    assert operator.balance("player-2") == Decimal("983.00")
    assert operator.reconciliation()["ok"] is True


def test_a_uuid_reused_for_an_unknown_player_is_still_5(provider, operator, player):
    body = callback_body("Bet", amount="1.00")
    assert provider.send("Bet", body)["error"] == 0
    assert provider.send("Bet", {**body, "userId": "nobody", "reference": "fresh"})["error"] == 5
    assert operator.balance() == Decimal("999.00")
