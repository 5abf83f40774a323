"""The CancelRound client without a network: answer parsing, retries, back-off, the time budget."""

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


OK = FakeResponse(200, '{"error": 0, "description": "Success", "reference": "bet-1"}')


def test_timeouts_connection_errors_and_503_are_retried_with_the_same_body_and_growing_pauses():
    session, clock = ScriptedSession(requests.ReadTimeout("slow"), requests.ConnectionError("down"),
                                     FakeResponse(503, "busy"), OK), Clock()
    attempts: list[Attempt] = []
    answer = client(session, clock, attempts=4).cancel_round({"uuid": "u-1", "reference": "bet-1"}, attempts.append)

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
    assert client(session, clock, attempts=3).cancel_round({"uuid": "u"}, attempts.append) is None
    assert len(attempts) == 3 and len(session.sent) == 3 and clock.pauses == [0.5, 1.0]


def test_a_refusal_is_final_but_error_100_asks_for_another_try():
    refused = FakeResponse(200, '{"error": 3, "description": "Bet not allowed"}')
    session, clock = ScriptedSession(FakeResponse(200, '{"error": 100}'), refused), Clock()
    attempts: list[Attempt] = []
    answer = client(session, clock).cancel_round({"uuid": "u"}, attempts.append)
    assert answer is not None and answer.error == 3 and len(attempts) == 2


def test_the_total_time_budget_stops_retries_and_shortens_timeouts():
    session, clock = ScriptedSession(*[FakeResponse(503, "")] * 10), Clock()
    attempts: list[Attempt] = []
    assert client(session, clock, attempts=10, total_budget=2.0, timeout=5.0).cancel_round({}, attempts.append) is None
    assert sum(clock.pauses) < 2.0 and len(attempts) == 3  # 0.5 + 1.0 paused, a 2.0 pause would pass the budget
    assert session.sent[0]["timeout"] == (2.0, 2.0)
