"""The provider client without a network: bodies of both styles, answer parsing, retries, back-off, the
time budget, the token kept out of what is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support import Clock
from wallet.provider.client import AnswerError, Attempt, ProviderClient, parse_answer


def test_answer_is_read_with_the_seed_pages_misspelling_and_a_string_code():
    assert parse_answer(b'{"eroor": "0", "description": "Success", "reference": "r1"}').error == 0
    answer = parse_answer('{"Error": 3, "Description": "Bet not allowed", "Reference": "r1"}')
    assert (answer.error, answer.description, answer.reference) == (3, "Bet not allowed", "r1")


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"description": "no code"}',
                                 b'{"error": "zero"}', b'{"error": true}', b'{"error": 0.5}'])
def test_a_body_that_is_not_an_answer_is_refused(raw):
    with pytest.raises(AnswerError):
        parse_answer(raw)


class FakeResponse:
    def __init__(self, status: int, body: str) -> None:
        self.status_code, self.text, self.content = status, body, body.encode()


class ScriptedSession:
    """Plays a script of responses (or exceptions to raise) and keeps every request it was given."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []

    def post(self, url: str, **kwargs: Any) -> FakeResponse:
        self.sent.append({"url": url, **kwargs})
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def client(session: ScriptedSession, clock: Clock, **kwargs: Any) -> ProviderClient:
    return ProviderClient("http://provider.test/", session=session, sleep=clock.sleep,  # type: ignore[arg-type]
                          clock=clock, **kwargs)


def cancel(c: ProviderClient, body: dict[str, Any], on_attempt: Any) -> Any:
    return c.call("CancelRound", body, on_attempt)


OK = FakeResponse(200, '{"error": 0, "description": "Success", "reference": "bet-1"}')


def test_timeouts_connection_errors_and_503_are_retried_with_the_same_body_and_growing_pauses():
    session, clock = ScriptedSession(requests.ReadTimeout("slow"), requests.ConnectionError("down"),
                                     FakeResponse(503, "busy"), OK), Clock()
    attempts: list[Attempt] = []
    answer = cancel(client(session, clock, attempts=4), {"uuid": "u-1", "reference": "bet-1"}, attempts.append)

    assert answer is not None and answer.error == 0
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert [a.http_status for a in attempts] == [None, None, 503, 200]
    assert attempts[0].exception.startswith("ReadTimeout") and attempts[1].exception.startswith("ConnectionError")
    assert clock.pauses == [0.5, 1.0, 2.0]
    assert {s["data"] for s in session.sent} == {json.dumps({"uuid": "u-1", "reference": "bet-1"},
                                                            separators=(",", ":")).encode()}
    assert all(s["url"] == "http://provider.test/V4/CancelRound" for s in session.sent)
    assert all(s["headers"]["Content-Type"] == "application/json" for s in session.sent)


def test_a_provider_that_never_answers_200_gives_none_after_the_configured_attempts():
    session, clock = ScriptedSession(*[FakeResponse(502, "bad gateway")] * 5), Clock()
    attempts: list[Attempt] = []
    assert cancel(client(session, clock, attempts=3), {"uuid": "u"}, attempts.append) is None
    assert len(attempts) == 3 and len(session.sent) == 3 and clock.pauses == [0.5, 1.0]


def test_a_refusal_is_final_but_error_100_asks_for_another_try():
    refused = FakeResponse(200, '{"error": 3, "description": "Bet not allowed"}')
    session, clock = ScriptedSession(FakeResponse(200, '{"error": 100}'), refused), Clock()
    attempts: list[Attempt] = []
    answer = cancel(client(session, clock), {"uuid": "u"}, attempts.append)
    assert answer is not None and answer.error == 3 and len(attempts) == 2


def test_the_total_time_budget_stops_retries_and_shortens_timeouts():
    session, clock = ScriptedSession(*[FakeResponse(503, "")] * 10), Clock()
    attempts: list[Attempt] = []
    assert cancel(client(session, clock, attempts=10, total_budget=2.0, timeout=5.0), {}, attempts.append) is None
    assert sum(clock.pauses) < 2.0 and len(attempts) == 3  # 0.5 + 1.0 paused, a 2.0 pause would pass the budget
    assert session.sent[0]["timeout"] == (2.0, 2.0)


# --------------------------------------------------------------------------- bodies of both styles

TOKEN = "tok-very-secret-0123456789"
BET = {"provider_id": None, "user_id": "p1", "session_id": "s-1", "currency": "USD", "game_id": "g-1",
       "game_name": "tumble", "reference": "bet-1", "round_id": "r-1"}


def test_the_2024_cancel_body_is_the_seed_pages_fields_plus_the_round():
    c = ProviderClient("http://p", style="2024", secure_login="op", token=TOKEN, provider_id="LM")
    assert c.cancel_round_body("u-1", BET) == {
        "providerId": "LM", "userId": "p1", "sessionId": "s-1", "currency": "USD", "gameId": "g-1",
        "gameName": "tumble", "reference": "bet-1", "uuid": "u-1", "roundId": "r-1"}


def test_the_2025_cancel_body_names_the_round_with_the_partner_login_and_token():
    c = ProviderClient("http://p", style="2025", secure_login="op", token=TOKEN)
    assert c.cancel_round_body("u-1", BET) == {"secureLogin": "op", "userId": "p1", "roundId": "r-1",
                                               "token": TOKEN, "uuid": "u-1", "gameId": "g-1"}
    assert "gameId" not in c.cancel_round_body("u-1", {**BET, "game_id": None})


def test_the_section_11_bodies_carry_the_credentials_and_nothing_else():
    c = ProviderClient("http://p", secure_login="op", token=TOKEN)
    assert c.round_status_body("u", "r-1") == {"secureLogin": "op", "roundId": "r-1", "uuid": "u", "token": TOKEN}
    assert c.close_session_body("u", "p1") == {"secureLogin": "op", "userId": "p1", "token": TOKEN, "uuid": "u"}
    assert c.close_session_body("u", "p1", "g-1")["gameId"] == "g-1"
    assert c.health_body("u") == {"secureLogin": "op", "token": TOKEN, "uuid": "u"}


def test_the_token_is_masked_in_what_is_stored_and_never_in_repr():
    c = ProviderClient("http://p", style="2025", secure_login="op", token=TOKEN)
    body = c.cancel_round_body("u", BET)
    assert c.redacted(body)["token"] == "***" and body["token"] == TOKEN
    assert c.scrub(f"echo {TOKEN} back") == "echo *** back"
    assert TOKEN not in repr(c)


# --------------------------------------------------------------------------- answers that are not answers


def test_a_round_status_in_any_case_is_read_in_the_providers_spelling():
    answer = parse_answer(b'{"error": "0", "roundStatus": "completeinprocess", "roundId": "r"}', "GetRoundStatus")
    assert answer.error == 0 and answer.round_status == "CompleteInProcess" and answer.get("ROUNDID") == "r"


@pytest.mark.parametrize("raw, reason", [
    (b'{"error": 0, "roundStatus": "Finished"}', "unknown roundStatus 'Finished'"),
    (b'{"error": 0, "roundId": "r"}', "no roundStatus"),
    (b"<html><body>502 Bad Gateway</body></html>", "HTML page"),
    (b"", "empty"),
])
def test_a_round_status_answer_the_wallet_cannot_act_on_is_refused_with_its_reason(raw, reason):
    with pytest.raises(AnswerError, match=reason):
        parse_answer(raw, "GetRoundStatus")


def test_an_error_answer_needs_no_round_status_and_a_numeric_error_may_be_a_decimal():
    assert parse_answer(b'{"error": 7, "description": "no such round"}', "GetRoundStatus").error == 7
    assert parse_answer(b'{"error": 0.0, "roundStatus": "InProgress"}', "GetRoundStatus").error == 0


def test_html_error_pages_and_unknown_statuses_are_retried_then_given_up_with_each_reason():
    html = FakeResponse(502, "<!DOCTYPE html><html><body>Bad Gateway</body></html>")
    odd = FakeResponse(200, '{"error": 0, "roundStatus": "Paused"}')
    echo = FakeResponse(200, f'{{"error": 100, "echo": "{TOKEN}"}}')
    session, clock = ScriptedSession(html, odd, echo), Clock()
    attempts: list[Attempt] = []
    c = client(session, clock, token=TOKEN)
    assert c.call("GetRoundStatus", {"uuid": "u"}, attempts.append) is None
    assert [a.problem for a in attempts] == ["HTTP 502, answer is an HTML page", "unknown roundStatus 'Paused'",
                                             "error 100 asks for a retry"]
    assert TOKEN not in attempts[2].answer and "***" in attempts[2].answer
    assert session.sent[0]["url"] == "http://provider.test/history/GetRoundStatus"


def test_a_200_that_is_not_json_is_not_an_answer_but_a_later_good_one_is():
    session, clock = ScriptedSession(FakeResponse(200, "OK"), FakeResponse(200, '{"error": 0}')), Clock()
    attempts: list[Attempt] = []
    answer = client(session, clock).call("HealthCheck", {"uuid": "u"}, attempts.append)
    assert answer is not None and answer.error == 0
    assert attempts[0].problem == "answer is not JSON" and attempts[1].final


def test_a_deadline_shorter_than_the_budget_ends_the_call_sooner():
    session, clock = ScriptedSession(*[FakeResponse(503, "")] * 10), Clock()
    attempts: list[Attempt] = []
    c = client(session, clock, attempts=10, total_budget=20.0)
    assert c.call("CloseSession", {"uuid": "u"}, attempts.append, deadline=1.0) is None
    assert len(attempts) == 2 and session.sent[0]["timeout"] == (1.0, 1.0)
