"""Operator controls on the real database (docs/protocol.md, "Operator controls";
docs/responsible-gambling.md): the game catalogue (8), maximum bet (310), loss and wager limits per
day, week and month (50, and Check's 50), tightening at once and loosening after the cooling-off
period, self-exclusion (6), reality checks (210), which refusal wins, periods in a non-UTC time
zone with the wallet's clock moved across midnight, a Monday and a month end; the admin API's bad
input (4xx, nothing changed), the CLI and the support pages.

The wallet's clock (wallet.clock.utcnow) is moved with monkeypatch: the stored functions get the
same time as their `now`, so ledger entries are dated by it and periods follow it.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from tests.conftest import Operator, Provider, make_app
from tests.fuzz.admin_edges import ledger_state
from tests.provider_fake import FakeProvider
from tests.support import unique
from tests.site_helpers import site_client
from wallet import clock

# A Wednesday in the middle of a month: a day, the week and the month all have room around it.
START = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
USER = "player-1"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class Clock:
    """The wallet's clock, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime = START) -> None:
        self.now = start
        monkeypatch.setattr(clock, "utcnow", lambda: self.now)

    def at(self, moment: datetime | str) -> None:
        self.now = datetime.fromisoformat(moment) if isinstance(moment, str) else moment

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def wallet_app(database_url: str, **settings: Any) -> Flask:
    """The wallet, with CloseSession pointed at a closed port (a self-exclusion's call fails fast)."""
    return make_app(database_url, **{"provider_api_url": closed_port_url(), "provider_attempts": 1, **settings})


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = wallet_app(database_url)
    yield app
    app.extensions["wallet.engine"].dispose()


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


class World:
    """A player (USD 1000.00, opened at the clock's time), the provider's calls and the admin API."""

    def __init__(self, app: Flask, now: Clock, currency: str = "USD", deposit: str = "1000.00") -> None:
        self.app, self.now, self.currency = app, now, currency
        self.provider = Provider(app.test_client())
        self.operator = Operator(app.test_client())
        self.operator.open_player(USER, currency, deposit)

    def bet(self, amount: str, *, round_id: str = "round-1", game: str = "game-1", session: str = "session-1",
            reference: str | None = None, **fields: Any) -> dict[str, Any]:
        return self.provider.call("Bet", amount=amount, roundId=round_id, gameId=game, sessionId=session,
                                  reference=reference or unique("bet"), currency=self.currency, **fields)

    def ok_bet(self, amount: str, **kwargs: Any) -> dict[str, Any]:
        answer = self.bet(amount, **kwargs)
        assert answer["error"] == 0, answer
        return answer

    def error(self, amount: str, **kwargs: Any) -> int:
        return self.bet(amount, **kwargs)["error"]

    def call(self, method: str, **fields: Any) -> dict[str, Any]:
        return self.provider.call(method, **fields)

    def put(self, body: dict[str, Any], user: str = USER) -> Any:
        return self.operator.request("PUT", f"/players/{user}/limits", json={"reason": "player asked", **body})

    def limits(self, body: dict[str, Any] | None = None, user: str = USER) -> dict[str, Any]:
        """PUT `body` (200 asserted) and answer; without a body, GET."""
        r = self.put(body, user) if body is not None else self.operator.request("GET", f"/players/{user}/limits")
        assert r.status_code == 200, r.get_data(as_text=True)
        return json.loads(r.get_data(), parse_float=Decimal)

    def balance(self) -> Decimal:
        return self.operator.balance(USER)

    def game(self, game_id: str, enabled: bool, reason: str = "regulator asked") -> Any:
        return self.operator.request("PATCH", f"/games/{game_id}", json={"enabled": enabled, "reason": reason})

    def clean(self) -> None:
        assert self.operator.reconciliation()["ok"] is True


@pytest.fixture
def world(app: Flask, now: Clock) -> World:
    return World(app, now)


def pending_of(view: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [p for p in view["pending"] if p["limit"] == name]
    return found[0] if found else None


# --------------------------------------------------------------------------- games (8)


def test_a_game_is_recorded_on_its_first_bet_enabled(world: World):
    assert world.operator.request("GET", "/games").get_json() == {"items": []}
    world.ok_bet("1.00", game="g-slots", gameName="Slots")
    world.now.move(minutes=5)
    world.ok_bet("1.00", game="g-slots", gameName="Slots")
    [game] = world.operator.request("GET", "/games").get_json()["items"]
    assert game == {"gameId": "g-slots", "gameName": "Slots", "enabled": True, "firstSeenAt": START.isoformat(),
                    "updatedAt": START.isoformat()}
    assert world.operator.request("GET", "/games/g-slots").get_json() == game
    assert world.operator.request("GET", "/games/nope").status_code == 404


def test_a_disabled_game_refuses_bets_with_8_and_still_processes_wins_refunds_and_cancels(world: World):
    for n in (1, 2, 3):
        world.ok_bet("10.00", game="g-off", round_id=f"r-{n}", reference=f"b-{n}")
    r = world.game("g-off", False)
    assert r.status_code == 200 and r.get_json()["enabled"] is False
    assert r.get_json()["updatedAt"] == START.isoformat()
    before = world.balance()
    assert world.bet("1.00", game="g-off", round_id="r-1") == {"error": 8, "description": "Game is disabled"}
    assert world.balance() == before == Decimal("970.00")
    # everything but a Bet goes on in the disabled game
    assert world.call("Result", reference="w-1", roundId="r-1", gameId="g-off", amount="25.00")["error"] == 0
    assert world.call("Refund", reference="b-2")["error"] == 0
    assert world.call("Cancel", reference="b-3")["error"] == 0
    assert world.call("EndRound", roundId="r-1", gameId="g-off")["error"] == 0
    assert world.call("JackpotWin", reference="jp-1", roundId="r-9", gameId="g-off", amount="5.00")["error"] == 0
    assert world.balance() == Decimal("1020.00")
    world.ok_bet("1.00", game="g-other")  # other games are untouched
    assert {g["gameId"]: g["enabled"] for g in world.operator.request("GET", "/games").get_json()["items"]} == {
        "g-off": False, "g-other": True}
    assert [g["gameId"] for g in world.operator.request("GET", "/games?enabled=false").get_json()["items"]] == ["g-off"]
    # enabled again: its Bets are accepted
    assert world.game("g-off", True).get_json()["enabled"] is True
    world.ok_bet("1.00", game="g-off", round_id="r-4")
    world.clean()


def test_patching_a_game_needs_a_known_game_a_boolean_and_a_reason(world: World):
    world.ok_bet("1.00", game="g-1")
    assert world.game("g-unknown", False).status_code == 404
    for body in ({"enabled": False}, {"enabled": False, "reason": ""}, {"enabled": "false", "reason": "x"},
                 {"enabled": 0, "reason": "x"}, {"enabled": None, "reason": "x"}, {"reason": "x"},
                 {"enabled": False, "reason": "x", "extra": 1}, {"enabled": False, "reason": "x" * 1025},
                 {"enabled": False, "reason": "   "}):
        r = world.operator.request("PATCH", "/games/g-1", json=body)
        assert r.status_code == 422, (body, r.get_data(as_text=True))
        assert set(r.get_json()) >= {"error", "description"} and r.get_json()["error"] == "invalid"
    assert world.operator.request("PATCH", "/games/g-1", data="{", content_type="application/json").status_code == 400
    assert world.operator.request("GET", "/games/g-1").get_json()["enabled"] is True
    assert world.operator.request("PATCH", "/games/a%00b", json={"enabled": False, "reason": "x"}).status_code == 404
    # the same state again: 200, nothing changes
    assert world.game("g-1", True).get_json()["updatedAt"] == START.isoformat()


def test_the_2025_table_renumbers_8_and_50(database_url: str, now: Clock):
    app = wallet_app(database_url, error_codes="2025")
    w = World(app, now)
    w.ok_bet("1.00", game="g-1")
    w.game("g-1", False)
    assert w.error("1.00", game="g-1") == 58
    w.limits({"lossLimit": {"day": "1.00"}})
    assert w.error("1.00", game="g-2") == 60
    w.limits({"maxBet": "0.50"})
    assert w.error("1.00", game="g-2") == 310
    app.extensions["wallet.engine"].dispose()


# --------------------------------------------------------------------------- maximum bet (310)


def test_a_bet_above_the_maximum_bet_gets_310_and_moves_nothing(world: World):
    view = world.limits({"maxBet": "5.00"})
    assert view["maxBet"] == Decimal("5.00") and view["pending"] == []
    world.ok_bet("5.00")  # exactly the maximum: allowed
    refused = world.bet("5.01")
    assert refused == {"error": 310, "description": "Bet above the player's maximum bet"}
    assert world.balance() == Decimal("995.00")
    assert world.call("Check")["error"] == 0  # a maximum bet is never "used up"
    world.clean()


# --------------------------------------------------------------------------- loss and wager limits (50)


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_a_loss_limit_allows_reaching_it_exactly_and_refuses_beyond_with_50(world: World, period: str):
    world.limits({"lossLimit": {period: "20.00"}})
    world.ok_bet("15.00", round_id="r-1")
    assert world.call("Check")["error"] == 0
    world.ok_bet("5.00", round_id="r-1")  # reaches the limit exactly
    refused = world.bet("0.01", round_id="r-2")
    assert refused == {"error": 50, "description": f"Bet limit reached: loss limit of the {period}"}
    assert world.call("Check") == {"error": 50, "description": f"Bet limit reached: loss limit of the {period}"}
    # a win lowers the net loss: 20 - 12 = 8 lost, 12 left
    assert world.call("Result", reference=unique("win"), roundId="r-1", gameId="game-1", amount="12.00")["error"] == 0
    assert world.call("Check")["error"] == 0
    world.ok_bet("12.00", round_id="r-3")
    assert world.error("0.01", round_id="r-4") == 50
    assert world.balance() == Decimal("1000.00") - 15 - 5 + 12 - 12
    world.clean()


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_a_wager_limit_counts_bets_whatever_was_won_less_refunds_and_cancels(world: World, period: str):
    world.limits({"wagerLimit": {period: "30.00"}})
    world.ok_bet("10.00", round_id="r-1")
    assert world.call("Result", reference=unique("win"), roundId="r-1", gameId="game-1", amount="100.00")["error"] == 0
    world.ok_bet("10.00", round_id="r-2", reference="to-refund")
    world.ok_bet("10.00", round_id="r-3", reference="to-cancel")  # 30 wagered: exactly the limit
    refused = world.bet("0.01", round_id="r-4")
    assert refused == {"error": 50, "description": f"Bet limit reached: wager limit of the {period}"}
    assert world.call("Check")["error"] == 50
    assert world.call("Refund", reference="to-refund")["error"] == 0
    assert world.call("Check")["error"] == 0
    world.ok_bet("10.00", round_id="r-5")
    assert world.error("0.01", round_id="r-6") == 50
    assert world.call("Cancel", reference="to-cancel")["error"] == 0
    world.ok_bet("10.00", round_id="r-7")
    assert world.error("0.01", round_id="r-8") == 50
    world.clean()


def test_refunds_and_cancels_lower_the_net_loss(world: World):
    world.limits({"lossLimit": {"day": "20.00"}})
    world.ok_bet("20.00", round_id="r-1", reference="big")
    assert world.error("1.00", round_id="r-2") == 50
    assert world.call("Refund", reference="big")["error"] == 0
    world.ok_bet("15.00", round_id="r-3", reference="mid")
    world.ok_bet("5.00", round_id="r-3")
    assert world.error("1.00", round_id="r-4") == 50
    assert world.call("Cancel", reference="mid")["error"] == 0
    world.ok_bet("15.00", round_id="r-5")
    assert world.error("0.01", round_id="r-6") == 50
    world.clean()


def test_prizes_do_not_lower_the_net_loss(world: World):
    world.limits({"lossLimit": {"day": "10.00"}})
    world.ok_bet("10.00", round_id="r-1")
    assert world.call("PromoWin", reference="promo", amount="50.00")["error"] == 0
    assert world.call("JackpotWin", reference="jp", roundId="r-1", gameId="game-1", amount="50.00")["error"] == 0
    assert world.call("BonusWin", reference="bonus", amount="50.00")["error"] == 0
    assert world.error("0.01", round_id="r-2") == 50
    assert world.call("Check")["error"] == 50


def test_bets_made_before_the_limit_was_set_count(world: World):
    world.ok_bet("30.00")
    world.now.move(hours=1)
    world.limits({"lossLimit": {"day": "25.00"}})
    assert world.call("Check")["error"] == 50
    assert world.error("0.01") == 50


def test_each_period_counts_only_its_own_entries(world: World):
    """Limits of all three periods at once: yesterday's losses count for the week and the month only."""
    world.limits({"lossLimit": {"day": "10.00", "week": "25.00", "month": "40.00"}})
    world.ok_bet("10.00", round_id="r-1")
    assert world.error("0.01", round_id="r-2") == 50
    world.now.move(days=1)  # Thursday: a new day, the same week and month
    world.ok_bet("10.00", round_id="r-3")
    world.now.move(days=1)  # Friday
    world.ok_bet("5.00", round_id="r-4")  # the week's 25.00, exactly
    refused = world.bet("0.01", round_id="r-5")
    assert refused["description"] == "Bet limit reached: loss limit of the week"
    world.now.at(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))  # next Monday: the month has 15.00 left
    world.ok_bet("10.00", round_id="r-6")
    world.now.move(days=1)
    world.ok_bet("5.00", round_id="r-7")
    assert world.bet("0.01", round_id="r-8")["description"] == "Bet limit reached: loss limit of the month"


# --------------------------------------------------------------------------- tightening, loosening, cooling off


def test_tightening_takes_effect_at_once(world: World):
    world.limits({"lossLimit": {"day": "100.00"}})
    world.ok_bet("20.00")
    view = world.limits({"lossLimit": {"day": "20.00"}})
    assert view["lossLimit"] == {"day": Decimal("20.00"), "week": None, "month": None} and view["pending"] == []
    assert world.error("0.01") == 50
    assert world.limits()["lossLimit"]["day"] == Decimal("20.00")


def test_loosening_waits_for_the_cooling_off_period_shown_as_pending(world: World):
    world.limits({"maxBet": "5.00", "lossLimit": {"month": "10.00"}})
    world.ok_bet("5.00")
    world.ok_bet("5.00")
    view = world.limits({"maxBet": "50.00", "lossLimit": {"month": None}})
    effective_at = (START + timedelta(hours=24)).isoformat()
    assert view["maxBet"] == Decimal("5.00") and view["lossLimit"]["month"] == Decimal("10.00")
    assert pending_of(view, "maxBet") == {"limit": "maxBet", "value": Decimal("50.00"), "effectiveAt": effective_at}
    assert pending_of(view, "lossLimit.month") == {"limit": "lossLimit.month", "value": None,
                                                   "effectiveAt": effective_at}
    assert world.limits() == view  # GET answers what PUT did
    assert world.error("0.01") == 50 and world.error("6.00") == 310
    world.now.move(hours=23, minutes=59, seconds=59)
    assert world.error("0.01") == 50
    world.now.move(seconds=1)  # the cooling-off period is over
    view = world.limits()
    assert view["maxBet"] == Decimal("50.00") and view["lossLimit"]["month"] is None and view["pending"] == []
    world.ok_bet("50.00")
    assert world.error("50.01") == 310
    world.clean()


def test_the_cooling_off_period_is_the_configured_one(database_url: str, now: Clock):
    app = wallet_app(database_url, limit_cooling_off_hours=0.5)
    w = World(app, now)
    w.limits({"maxBet": "1.00"})
    view = w.limits({"maxBet": "2.00"})
    assert pending_of(view, "maxBet")["effectiveAt"] == (START + timedelta(minutes=30)).isoformat()
    now.move(minutes=30)
    w.ok_bet("2.00")
    app.extensions["wallet.engine"].dispose()


def test_equal_value_counts_as_tightening_and_cancels_a_pending_loosening(world: World):
    world.limits({"maxBet": "5.00"})
    assert pending_of(world.limits({"maxBet": "9.00"}), "maxBet") is not None
    view = world.limits({"maxBet": "5.00"})
    assert view["maxBet"] == Decimal("5.00") and view["pending"] == []
    world.now.move(days=2)
    assert world.error("5.01") == 310


def test_a_new_change_replaces_a_pending_one_and_a_repeat_keeps_its_time(world: World):
    world.limits({"maxBet": "5.00"})
    first = pending_of(world.limits({"maxBet": "9.00"}), "maxBet")
    world.now.move(hours=2)
    assert pending_of(world.limits({"maxBet": "9.00"}), "maxBet") == first  # a repeated request: same time
    world.now.move(hours=2)
    replaced = pending_of(world.limits({"maxBet": "20.00"}), "maxBet")
    assert replaced == {"limit": "maxBet", "value": Decimal("20.00"),
                        "effectiveAt": (START + timedelta(hours=28)).isoformat()}
    tightened = world.limits({"maxBet": "3.00"})  # below the one in force: at once, the pending one gone
    assert tightened["maxBet"] == Decimal("3.00") and tightened["pending"] == []


def test_a_new_limit_and_a_lower_one_apply_at_once_a_removal_waits(world: World):
    view = world.limits({"wagerLimit": {"week": "100.00"}, "lossLimit": {"day": "50.00"}})
    assert view["wagerLimit"]["week"] == Decimal("100.00") and view["lossLimit"]["day"] == Decimal("50.00")
    view = world.limits({"wagerLimit": None})  # null removes the three: only the week's existed
    assert view["wagerLimit"]["week"] == Decimal("100.00")
    assert [p["limit"] for p in view["pending"]] == ["wagerLimit.week"]
    assert view["lossLimit"]["day"] == Decimal("50.00")  # absent: unchanged


def test_the_reality_check_interval_changes_at_once_either_way(world: World):
    assert world.limits({"realityCheckMinutes": 30})["realityCheckMinutes"] == 30
    view = world.limits({"realityCheckMinutes": 90})
    assert view["realityCheckMinutes"] == 90 and view["pending"] == []
    view = world.limits({"realityCheckMinutes": None})
    assert view["realityCheckMinutes"] is None and view["pending"] == []


def test_limits_are_in_the_players_currency_exactly(database_url: str, now: Clock):
    app = wallet_app(database_url)
    jpy = World(app, now, "JPY", "5000")
    view = jpy.limits({"maxBet": 500, "lossLimit": {"day": "1000"}})
    assert view["currency"] == "JPY" and view["maxBet"] == Decimal("500")
    assert jpy.put({"maxBet": "1.5"}).status_code == 422
    assert jpy.put({"lossLimit": {"week": "10.0"}}).status_code == 200  # 10, exactly
    assert jpy.error("501") == 310
    app.extensions["wallet.engine"].dispose()


# --------------------------------------------------------------------------- self-exclusion (6)


def test_self_exclusion_refuses_check_and_bet_with_6_until_it_ends(world: World):
    world.ok_bet("10.00", round_id="r-1", reference="open-bet")
    world.ok_bet("10.00", round_id="r-2", reference="to-cancel")
    world.ok_bet("10.00", round_id="r-3")
    until = START + timedelta(days=30)
    view = world.limits({"excludedUntil": "2027-04-09T14:00:00+02:00"})
    assert view["excludedUntil"] == until.isoformat() and view["selfExcluded"] is True
    assert world.call("Check") == {"error": 6, "description": "Player is self-excluded"}
    assert world.bet("1.00", round_id="r-4") == {"error": 6, "description": "Player is self-excluded"}
    # everything owed is still paid
    assert world.call("Result", reference="win", roundId="r-3", gameId="game-1", amount="7.00")["error"] == 0
    assert world.call("Refund", reference="open-bet")["error"] == 0
    assert world.call("Cancel", reference="to-cancel")["error"] == 0
    assert world.call("PromoWin", reference="promo", amount="1.00")["error"] == 0
    assert world.call("JackpotWin", reference="jp", roundId="r-3", gameId="game-1", amount="1.00")["error"] == 0
    assert world.call("BonusWin", reference="bonus", amount="1.00", bonusCode="b")["error"] == 0
    assert world.call("Balance")["error"] == 0
    assert world.balance() == Decimal("1000.00") - 10 + 7 + 1 + 1
    player = world.operator.request("GET", f"/players/{USER}").get_json()
    assert player["excludedUntil"] == until.isoformat() and player["limits"]["selfExcluded"] is True
    world.now.at(until - timedelta(seconds=1))
    assert world.call("Check")["error"] == 6
    world.now.at(until)  # it has ended
    assert world.call("Check")["error"] == 0
    world.ok_bet("1.00", round_id="r-5")
    assert world.limits()["selfExcluded"] is False
    world.clean()


def test_self_exclusion_may_be_extended_never_shortened_or_removed(world: World):
    world.limits({"excludedUntil": "2027-06-01T00:00:00Z"})
    view = world.limits({"excludedUntil": "2027-07-01T00:00:00Z"})  # extended
    assert view["excludedUntil"] == "2027-07-01T00:00:00+00:00"
    assert world.limits({"excludedUntil": "2027-07-01T02:00:00+02:00"}) == view  # the same instant: unchanged
    state = ledger_state(world.app)
    for body in ({"excludedUntil": "2027-06-30T23:59:59Z"}, {"excludedUntil": None},
                 {"excludedUntil": "2027-06-15T00:00:00Z", "maxBet": "1.00"}):
        r = world.put(body)
        assert r.status_code == 409 and r.get_json()["error"] == "conflict", r.get_data(as_text=True)
        assert "2027-07-01T00:00:00" in r.get_json()["description"]
    assert world.limits() == view and world.limits()["maxBet"] is None
    assert ledger_state(world.app) == state
    # once it has ended, a new one may be shorter than the old one was
    world.now.at(datetime(2027, 7, 2, tzinfo=UTC))
    assert world.limits({"excludedUntil": "2027-07-03T00:00:00Z"})["selfExcluded"] is True


def test_an_exclusion_not_in_the_future_is_422_and_changes_nothing(world: World):
    world.limits({"maxBet": "5.00"})
    for until in (START.isoformat(), "2027-03-10T11:59:59Z", "2000-01-01T00:00:00+00:00",
                  "2027-03-10T12:00:00", "next week", "2027-02-30T00:00:00Z", 1234567890):
        r = world.put({"excludedUntil": until, "maxBet": "1.00"})
        assert r.status_code == 422, (until, r.get_data(as_text=True))
        assert r.get_json()["error"] == "invalid" and "excludedUntil" in r.get_json()["description"]
    view = world.limits()
    assert view["excludedUntil"] is None and view["maxBet"] == Decimal("5.00")
    assert world.put({"excludedUntil": None}).status_code == 200  # nothing to remove: nothing changes


def test_setting_an_exclusion_closes_the_players_session_at_the_provider(database_url: str, now: Clock):
    with FakeProvider() as fake:
        app = make_app(database_url, provider_api_url=fake.url, provider_timeout=0.5, provider_attempts=1)
        w = World(app, now)
        w.limits({"excludedUntil": "2027-12-31T00:00:00Z"})
        assert [b["userId"] for b in fake.bodies("/V4/CloseSession")] == [USER]
        w.limits({"excludedUntil": "2027-12-31T00:00:00Z"})  # unchanged: nothing sent
        w.limits({"maxBet": "1.00"})
        assert len(fake.bodies("/V4/CloseSession")) == 1
        [call] = w.operator.request("GET", f"/provider/calls?userId={USER}").get_json()["items"]
        assert (call["kind"], call["status"], call["reason"]) == ("CloseSession", "confirmed", "player self-excluded")
        app.extensions["wallet.engine"].dispose()


def test_the_exclusion_holds_when_the_provider_is_down_and_the_attempt_is_recorded(world: World):
    assert world.limits({"excludedUntil": "2027-12-31T00:00:00Z"})["selfExcluded"] is True
    [call] = world.operator.request("GET", f"/provider/calls?userId={USER}").get_json()["items"]
    assert (call["kind"], call["status"]) == ("CloseSession", "failed")
    assert world.call("Check")["error"] == 6


# --------------------------------------------------------------------------- reality checks (210)


def test_a_reality_check_every_n_minutes_of_a_session(world: World):
    world.limits({"realityCheckMinutes": 30})
    world.ok_bet("1.00")  # the session's first Bet at 12:00: the anchor
    world.now.move(minutes=29, seconds=59)
    world.ok_bet("1.00")
    world.now.move(seconds=1)  # 12:30
    balance = world.balance()
    refused = world.bet("1.00", reference="checked")
    assert refused == {"error": 210, "description": "Reality check: 30 minutes of play"}
    assert world.balance() == balance
    world.ok_bet("1.00", reference="checked")  # the next Bet proceeds (the same reference, a new uuid)
    world.now.move(minutes=29)  # 12:59: 29 minutes after the last check
    world.ok_bet("1.00")
    world.now.move(minutes=1)  # 13:00
    assert world.error("1.00") == 210
    world.ok_bet("1.00")
    # another session has its own clock, anchored on its own first Bet
    world.ok_bet("1.00", session="session-2")
    world.now.move(minutes=30)
    assert world.error("1.00", session="session-2") == 210
    assert world.error("1.00") == 210
    world.clean()


def test_a_reality_check_is_not_given_for_a_bet_refused_otherwise(world: World):
    world.limits({"realityCheckMinutes": 10, "maxBet": "5.00"})
    world.ok_bet("1.00")
    world.now.move(minutes=10)
    assert world.error("6.00") == 310  # 310 comes before 210
    assert world.error("1.00") == 210
    world.ok_bet("1.00")


def test_changing_the_interval_applies_to_a_running_session_at_once(world: World):
    world.limits({"realityCheckMinutes": 60})
    world.ok_bet("1.00")
    world.now.move(minutes=20)
    world.ok_bet("1.00")
    world.limits({"realityCheckMinutes": 15})
    assert world.error("1.00") == 210
    world.limits({"realityCheckMinutes": None})
    world.now.move(hours=5)
    world.ok_bet("1.00")


# --------------------------------------------------------------------------- which refusal wins


def test_the_order_of_refusals(world: World):
    world.ok_bet("1.00", game="g-off", round_id="r-0")
    world.game("g-off", False)
    world.limits({"maxBet": "5.00", "lossLimit": {"day": "3.00"}, "realityCheckMinutes": 1})
    world.now.move(minutes=1)
    assert world.error("10.00", game="g-off") == 8  # 8 before 310, 50 and 210
    assert world.error("10.00") == 310  # 310 before 50 and 210
    assert world.error("5.00") == 50  # 50 before 210
    assert world.error("2.00") == 210  # the reality check is due: 210 ...
    assert world.error("2000.00", game="g-x") == 310
    world.limits({"maxBet": None, "lossLimit": {"day": None}})  # removals wait; the 210 was given
    assert world.error("2.00") == 0
    assert world.error("0.01") == 50
    # a frozen, a self-excluded player: 6 first; an ended round: 3 before the controls
    assert world.call("EndRound", roundId="r-0", gameId="g-off")["error"] == 0
    assert world.error("10.00", game="g-off", round_id="r-0") == 3
    world.limits({"excludedUntil": "2027-12-31T00:00:00Z"})
    assert world.error("10.00", game="g-off") == 6
    world.clean()


def test_insufficient_balance_comes_last(database_url: str, now: Clock):
    app = wallet_app(database_url)
    w = World(app, now, deposit="2.00")
    w.limits({"lossLimit": {"day": "100.00"}, "realityCheckMinutes": 5})
    w.ok_bet("1.00")
    now.move(minutes=5)
    assert w.error("50.00") == 210
    assert w.error("50.00") == 1
    w.limits({"maxBet": "10.00"})
    assert w.error("50.00") == 310
    assert w.error("5.00") == 1
    app.extensions["wallet.engine"].dispose()


# --------------------------------------------------------------------------- periods in a non-UTC time zone


@pytest.fixture
def auckland(database_url: str, now: Clock) -> Iterator[World]:
    app = wallet_app(database_url, timezone="Pacific/Auckland")  # UTC+13 in March (NZDT)
    yield World(app, now)
    app.extensions["wallet.engine"].dispose()


def _used_up_until(w: World, last_minute: str, next_minute: str, **limit: dict[str, str]) -> None:
    """Use a 10.00 limit up in the last minute of a period; the next minute is a new period."""
    w.now.at(last_minute)
    w.limits(limit)
    w.ok_bet("10.00")
    assert w.error("0.01") == 50 and w.call("Check")["error"] == 50
    w.now.at(next_minute)
    assert w.call("Check")["error"] == 0
    w.ok_bet("10.00")
    assert w.error("0.01") == 50


def test_the_day_starts_at_midnight_in_the_operators_time_zone(auckland: World):
    assert auckland.limits()["timezone"] == "Pacific/Auckland"
    # 10:59 UTC is 23:59 in Auckland; 11:00 UTC, the same UTC day, is a new day there
    _used_up_until(auckland, "2027-03-09T10:59:00+00:00", "2027-03-09T11:00:00+00:00",
                   lossLimit={"day": "10.00"})


def test_the_week_starts_on_monday_in_the_operators_time_zone(auckland: World):
    # Sunday 14 March 23:59 in Auckland; Monday 15 March 00:00 there is still Sunday in UTC
    _used_up_until(auckland, "2027-03-14T10:59:00+00:00", "2027-03-14T11:00:00+00:00",
                   wagerLimit={"week": "10.00"})


def test_the_month_ends_at_midnight_in_the_operators_time_zone(auckland: World):
    # 31 March 23:59 in Auckland; 1 April 00:00 there is still 31 March in UTC
    _used_up_until(auckland, "2027-03-31T10:59:00+00:00", "2027-03-31T11:00:00+00:00",
                   lossLimit={"month": "10.00"})


def test_west_of_utc_a_period_ends_after_utc_midnight(database_url: str, now: Clock):
    app = wallet_app(database_url, timezone="America/New_York")  # UTC-5 in winter (EST)
    now.at("2027-01-31T23:30:00+00:00")  # Sunday 31 January 18:30 in New York
    w = World(app, now)
    w.limits({"lossLimit": {"day": "10.00", "week": "25.00", "month": "40.00"}})
    w.ok_bet("10.00")
    now.at("2027-02-01T04:59:00+00:00")  # Monday in UTC, still Sunday 31 January 23:59 in New York
    assert w.bet("0.01")["description"] == "Bet limit reached: loss limit of the day"
    now.at("2027-02-01T05:00:00+00:00")  # Monday 1 February 00:00 there: a new day, week and month
    w.ok_bet("10.00")
    assert w.bet("0.01")["description"] == "Bet limit reached: loss limit of the day"
    now.at("2027-02-02T05:00:00+00:00")
    w.ok_bet("10.00")
    now.at("2027-02-03T05:00:00+00:00")
    w.ok_bet("5.00")  # the week's 25.00, exactly
    assert w.bet("0.01")["description"] == "Bet limit reached: loss limit of the week"
    now.at("2027-02-08T05:00:00+00:00")  # the next Monday there: the month has 15.00 left
    w.ok_bet("10.00")
    now.at("2027-02-09T05:00:00+00:00")
    w.ok_bet("5.00")  # the month's 40.00, exactly
    assert w.bet("0.01")["description"] == "Bet limit reached: loss limit of the month"
    app.extensions["wallet.engine"].dispose()


# --------------------------------------------------------------------------- the admin API: shapes and bad input


def test_get_and_put_answer_the_same_view_and_the_player_shows_it(world: World):
    empty = world.limits()
    assert empty == {"userId": USER, "currency": "USD", "maxBet": None,
                     "lossLimit": {"day": None, "week": None, "month": None},
                     "wagerLimit": {"day": None, "week": None, "month": None}, "realityCheckMinutes": None,
                     "excludedUntil": None, "selfExcluded": False, "pending": [], "timezone": "UTC"}
    view = world.limits({"maxBet": 12.5, "lossLimit": {"day": "100", "week": "250.5"},
                         "wagerLimit": {"month": "1000.00"}, "realityCheckMinutes": 45})
    assert view["maxBet"] == Decimal("12.50") and str(view["maxBet"]) == "12.50"
    assert view["lossLimit"] == {"day": Decimal("100.00"), "week": Decimal("250.50"), "month": None}
    assert view["wagerLimit"]["month"] == Decimal("1000.00") and view["realityCheckMinutes"] == 45
    assert world.limits() == view
    player = json.loads(world.operator.request("GET", f"/players/{USER}").get_data(), parse_float=Decimal)
    assert player["limits"] == view and player["excludedUntil"] is None and player["balance"] == Decimal("1000.00")
    raw = world.operator.request("GET", f"/players/{USER}/limits").get_data(as_text=True)
    assert '"maxBet":12.50' in raw


BAD_BODIES = [
    ({"maxBet": "-1.00"}, "maxBet"),
    ({"maxBet": -1}, "maxBet"),
    ({"maxBet": "1e2"}, "maxBet"),
    ({"maxBet": "ten"}, "maxBet"),
    ({"maxBet": " 1.00"}, "maxBet"),
    ({"maxBet": "1.001"}, "maxBet"),  # more decimals than USD has
    ({"maxBet": "0.00001"}, "maxBet"),  # more than any currency has
    ({"maxBet": True}, "maxBet"),
    ({"maxBet": [1]}, "maxBet"),
    ({"maxBet": "1000000000000"}, "maxBet"),
    ({"lossLimit": {"day": "-5"}}, "lossLimit"),
    ({"lossLimit": {"year": "5"}}, "lossLimit"),
    ({"lossLimit": "5.00"}, "lossLimit"),
    ({"wagerLimit": {"week": "5.005"}}, "wagerLimit"),
    ({"realityCheckMinutes": 0}, "realityCheckMinutes"),
    ({"realityCheckMinutes": -5}, "realityCheckMinutes"),
    ({"realityCheckMinutes": "30"}, "realityCheckMinutes"),
    ({"realityCheckMinutes": 30.5}, "realityCheckMinutes"),
    ({"realityCheckMinutes": 10081}, "realityCheckMinutes"),
    ({"maxbet": "5.00"}, "maxbet"),  # unknown field
    ({"excludedUntil": "2027-03-10T11:00:00Z"}, "excludedUntil"),
]


@pytest.mark.parametrize("body, field", BAD_BODIES, ids=[json.dumps(b) for b, _ in BAD_BODIES])
def test_bad_input_is_422_naming_the_field_and_changes_nothing(world: World, body: dict[str, Any], field: str):
    world.limits({"maxBet": "5.00"})
    before, state = world.limits(), ledger_state(world.app)
    r = world.put({"lossLimit": {"month": "1.00"}, **body})  # a valid change beside it is not made either
    assert r.status_code == 422, r.get_data(as_text=True)
    answer = r.get_json()
    assert answer["error"] == "invalid" and field in answer["description"], answer
    assert world.limits() == before and ledger_state(world.app) == state


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}, {"reason": None}, {"reason": 5},
                                  {"reason": "x" * 1025}, {"reason": "a\u0000b"}])
def test_a_change_needs_a_reason(world: World, body: dict[str, Any]):
    r = world.operator.request("PUT", f"/players/{USER}/limits", json={"maxBet": "5.00", **body})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert "reason" in r.get_json()["description"] or "NUL" in r.get_json()["description"], r.get_json()
    assert world.limits()["maxBet"] is None


def test_unknown_players_and_unreadable_bodies(world: World):
    assert world.put({"maxBet": "1.00"}, user="nobody").status_code == 404
    assert world.operator.request("GET", "/players/nobody/limits").status_code == 404
    r = world.operator.request("PUT", f"/players/{USER}/limits", data="not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"] == "badrequest"
    r = world.operator.request("PUT", f"/players/{USER}/limits", json=["maxBet"])
    assert r.status_code == 422
    r = world.app.test_client().put(f"/admin/players/{USER}/limits", json={"maxBet": "1.00", "reason": "x"})
    assert r.status_code == 401
    assert world.limits()["maxBet"] is None


def test_a_change_is_logged_with_its_reason_and_who_asked(world: World, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO, logger="wallet.controls"):
        world.limits({"maxBet": "5.00", "reason": "player called support, ticket 42"})
        world.limits({"maxBet": "5.00", "reason": "again"})  # nothing changed: nothing logged
        world.ok_bet("1.00", game="g-1")
        world.game("g-1", False, reason="supplier recall")
    [limits, game] = [r for r in caplog.records if r.name == "wallet.controls"]
    assert limits.fields["reason"] == "player called support, ticket 42" and limits.fields["target"] == USER
    assert limits.fields["actor"] == "bootstrap"  # the token's person (WALLET_ADMIN_TOKEN: the built-in admin)
    assert limits.fields["changes"] == [{"field": "maxBet", "before": None, "after": Decimal("5.00"), "pending": None,
                                         "effectiveAt": None, "changed": True}]
    assert (game.fields["action"], game.fields["reason"], game.fields["after"]) == (
        "game.disable", "supplier recall", {"enabled": False})


# --------------------------------------------------------------------------- the CLI


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["wallet", *args])


def test_cli_games_and_switching_one(world: World):
    world.ok_bet("1.00", game="g-1", gameName="One")
    out = cli(world.app, "games")
    assert out.exit_code == 0 and "g-1" in out.output and "True" in out.output
    out = cli(world.app, "game-disable", "g-1", "--reason", "recall")
    assert out.exit_code == 0 and "game g-1 disabled" in out.output
    out = cli(world.app, "game-disable", "g-1", "--reason", "recall")
    assert out.exit_code == 0 and "already disabled; nothing changed" in out.output
    assert world.error("1.00", game="g-1") == 8
    out = cli(world.app, "games", "--json")
    assert json.loads(out.output) == world.operator.request("GET", "/games").get_json()
    out = cli(world.app, "games", "--csv")
    assert out.output.splitlines()[0] == "gameId,gameName,enabled,firstSeenAt,updatedAt"
    assert out.output.splitlines()[1].startswith("g-1,One,false,")
    assert cli(world.app, "game-enable", "g-1").exit_code != 0  # --reason is required
    out = cli(world.app, "game-enable", "g-1", "--reason", "cleared", "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["enabled"] is True
    out = cli(world.app, "game-enable", "nope", "--reason", "x")
    assert out.exit_code == 1 and "game nope not found" in out.output


def test_cli_set_limits_prints_what_it_did_and_limits_shows_them(world: World):
    out = cli(world.app, "set-limits", USER, "--max-bet", "5.00", "--loss-day", "100", "--reality-check-minutes", "30",
              "--reason", "player asked")
    assert out.exit_code == 0, out.output
    assert "maxBet: none -> 5.00, at once" in out.output and "lossLimit.day: none -> 100.00, at once" in out.output
    out = cli(world.app, "set-limits", USER, "--loss-day", "none", "--max-bet", "5", "--reason", "player asked")
    assert out.exit_code == 0
    assert "maxBet: unchanged (5.00)" in out.output
    assert "lossLimit.day: 100.00 stays in force; none pending, takes effect at 2027-03-11T12:00:00+00:00" in out.output
    out = cli(world.app, "set-limits", USER, "--max-bet", "5.00", "--reason", "again")
    assert "nothing changed for player player-1" in out.output
    out = cli(world.app, "limits", USER, "--json")
    assert json.loads(out.output, parse_float=Decimal) == world.limits()
    out = cli(world.app, "limits", USER)
    assert "player player-1 (USD), not self-excluded" in out.output and "Pacific" not in out.output
    line = next(ln for ln in out.output.splitlines() if ln.startswith("lossLimit.day"))
    assert line.split() == ["lossLimit.day", "100.00", "none", "2027-03-11T12:00:00+00:00"]
    out = cli(world.app, "limits", USER, "--csv")
    assert out.output.splitlines()[0] == "limit,inForce,pending,effectiveAt"
    assert "realityCheckMinutes,30,," in out.output
    out = cli(world.app, "set-limits", USER, "--excluded-until", "2027-12-31T00:00:00Z", "--reason", "player asked")
    assert out.exit_code == 0 and "excludedUntil: none -> 2027-12-31T00:00:00+00:00" in out.output
    assert "CloseSession at the provider: failed" in out.output
    assert "self-excluded until 2027-12-31T00:00:00+00:00" in out.output


@pytest.mark.parametrize("args", [
    ["--max-bet", "-1", "--reason", "x"],
    ["--max-bet", "1.001", "--reason", "x"],
    ["--reality-check-minutes", "soon", "--reason", "x"],
    ["--excluded-until", "2027-01-01T00:00:00", "--reason", "x"],
    ["--excluded-until", "2020-01-01T00:00:00Z", "--reason", "x"],
    ["--max-bet", "1.00", "--reason", ""],
])
def test_cli_set_limits_refuses_bad_input_and_changes_nothing(world: World, args: list[str]):
    out = cli(world.app, "set-limits", USER, *args)
    assert out.exit_code == 1 and out.output.startswith("error:"), out.output
    assert world.limits()["maxBet"] is None and world.limits()["excludedUntil"] is None
    assert cli(world.app, "set-limits", "nobody", "--max-bet", "1", "--reason", "x").exit_code == 1


# --------------------------------------------------------------------------- the support pages


def test_support_pages_show_limits_exclusion_and_games(world: World):
    site = site_client(world.app, "viewer")
    world.ok_bet("1.00", game="g-1", gameName="Slots")
    world.game("g-1", False)
    world.limits({"maxBet": "5.00", "excludedUntil": "2027-12-31T00:00:00Z"})
    world.limits({"maxBet": "8.00"})
    page = site.get(f"/support/players/{USER}").get_data(as_text=True)
    assert "Self-excluded until 2027-12-31T00:00:00+00:00" in page
    assert "5.00 USD" in page and "8.00" in page and "2027-03-11T12:00:00+00:00" in page
    page = site.get("/support/games")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert "g-1" in text_ and "Slots" in text_ and "disabled" in text_


# --------------------------------------------------------------------------- nothing else is touched


def test_refusals_store_their_answer_and_move_nothing(world: World, database_url: str):
    world.limits({"maxBet": "1.00"})
    refused = world.provider.send("Bet", {**_bet_body("2.00"), "uuid": "u-310"})
    again = world.provider.send("Bet", {**_bet_body("2.00"), "uuid": "u-310"})
    assert refused["error"] == again["error"] == 310
    from sqlalchemy import create_engine
    engine = create_engine(database_url)
    with engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind FROM transactions ORDER BY id")).scalars().all()
        rounds = conn.execute(text("SELECT count(*) FROM rounds")).scalar_one()
        games = conn.execute(text("SELECT count(*) FROM games")).scalar_one()
    engine.dispose()
    assert kinds == ["adjustment"] and rounds == 0 and games == 0


def _bet_body(amount: str) -> dict[str, Any]:
    from tests.support import callback_body
    return callback_body("Bet", amount=amount, reference="ref-310", roundId="r-310")
