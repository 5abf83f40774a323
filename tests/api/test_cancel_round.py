"""POST /admin/cancel-round refusals: none of them reaches the provider."""

from __future__ import annotations

import pytest


@pytest.fixture
def cancel(operator):  # type: ignore[no-untyped-def]
    def send(body):  # type: ignore[no-untyped-def]
        return operator.request("POST", "/cancel-round", json=body)
    return send


def test_cancel_of_an_unknown_bet_is_404(cancel, player):
    r = cancel({"reference": "never-placed"})
    assert r.status_code == 404 and r.get_json()["error"] == "notfound"


@pytest.mark.parametrize("body", [{}, {"reference": ""}, {"reference": ["x"]}, {"reference": "b", "roundId": 5.5}])
def test_cancel_with_a_bad_body_is_422(cancel, player, body):
    assert cancel(body).status_code == 422


def test_cancel_without_the_admin_token_is_401(client, player):
    assert client.post("/admin/cancel-round", json={"reference": "x"}).status_code == 401
    assert client.get("/admin/cancels").status_code == 401


def test_cancel_of_a_settled_refunded_or_other_round_bet_is_409(cancel, provider, operator, player):
    provider.call("Bet", reference="won", roundId="r-won")
    provider.call("Result", reference="win-won", roundId="r-won", amount="0")
    provider.call("Bet", reference="ended", roundId="r-ended")
    provider.call("EndRound", roundId="r-ended")
    provider.call("Bet", reference="refunded", roundId="r-refunded")
    provider.call("Refund", reference="refunded")
    provider.call("Bet", reference="open", roundId="r-open")

    for reference in ("won", "ended", "refunded"):
        r = cancel({"reference": reference})
        assert r.status_code == 409, (reference, r.get_json())
    r = cancel({"reference": "open", "roundId": "r-other"})
    assert r.status_code == 409 and "belongs to round r-open" in r.get_json()["description"]
    assert operator.request("GET", "/cancels").get_json() == {"items": [], "nextCursor": None}
