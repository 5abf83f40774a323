"""Stale rounds (section 11): the list, and the sweep's decision for every round status, against an
independent fake provider over real HTTP, the wallet on PostgreSQL: dry run, a cancel never sent
twice (one sweep after another, or two at once), the money back, the record and the metrics."""

from __future__ import annotations


import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.api.test_provider_calls import HTML_502, World, closed_port_url, wallet
from tests.provider_fake import FakeProvider, in_process
from tests.site_helpers import site_client
from wallet import clock


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as f:
        yield f


@pytest.fixture
def world(database_url: str, fake: FakeProvider) -> Iterator[World]:
    app = wallet(database_url, fake.url)
    fake.wallet = in_process(app)
    yield World(app, fake)
    app.extensions["wallet.engine"].dispose()


@pytest.fixture
def hours_ago(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run callbacks as if `hours` ago (the wallet's clock), then come back to now."""
    real = clock.utcnow

    class At:
        def __init__(self, hours: float) -> None:
            self.hours = hours

        def __enter__(self) -> None:
            moment: datetime = real() - timedelta(hours=self.hours)
            monkeypatch.setattr(clock, "utcnow", lambda: moment)

        def __exit__(self, *exc: Any) -> None:
            monkeypatch.setattr(clock, "utcnow", real)

    return At


def stale(world: World, **params: Any) -> Any:
    r = world.admin("GET", "/stale-rounds", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def sweep(world: World, **body: Any) -> Any:
    r = world.admin("POST", "/stale-rounds/sweep", json=body)
    assert r.status_code == 200, r.get_json()
    return r


def outcomes(answer: Any) -> dict[str, str]:
    return {item["roundId"]: item["outcome"] for item in answer.get_json()["rounds"]}


def sent_for(fake: FakeProvider) -> Counter[str]:
    return Counter(b["roundId"] for b in fake.bodies("/V4/CancelRound"))


# --------------------------------------------------------------------------- which rounds are stale


def test_a_stale_round_has_an_unrefunded_bet_no_result_no_end_and_an_old_last_entry(world: World, hours_ago):
    p = world.provider
    with hours_ago(30):
        world.bet("b-old", "r-old", "4.00")
        world.bet("b-won", "r-won")
        p.call("Result", userId="p1", reference="w-won", roundId="r-won", amount="0")
        world.bet("b-ended", "r-ended")
        p.call("EndRound", userId="p1", roundId="r-ended")
        world.bet("b-refunded", "r-refunded")
        p.call("Refund", userId="p1", reference="b-refunded")
        world.bet("b-cancelled", "r-cancelled")
        p.call("Cancel", userId="p1", reference="b-cancelled")
        world.bet("b-mixed-1", "r-mixed")
    with hours_ago(2):
        world.bet("b-recent", "r-recent")
        world.bet("b-mixed-2", "r-mixed")

    assert [i["roundId"] for i in stale(world)["items"]] == ["r-old"]  # 24 hours by default
    [item] = stale(world, olderThanHours=24)["items"]
    assert item == {**item, "roundId": "r-old", "userId": "p1", "currency": "USD", "openBets": 1,
                    "openAmount": 4.0, "lastCancel": None}
    assert [i["roundId"] for i in stale(world, olderThanHours=1)["items"]] == ["r-old", "r-mixed", "r-recent"]
    assert stale(world, olderThanHours=1, userId="someone")["items"] == []

    # the back-office site lists the same rounds, with links to each round and player
    site = site_client(world.app, "viewer")
    page = site.get("/support/stale-rounds")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "r-old" in text and "4.00 USD" in text and "r-recent" not in text and "r-won" not in text
    text = site.get("/support/stale-rounds?olderThanHours=1").get_data(as_text=True)
    assert all(r in text for r in ("r-old", "r-mixed", "r-recent")) and "r-refunded" not in text
    assert site.get("/support/stale-rounds?olderThanHours=soon").status_code == 422


def test_the_list_is_keyset_paginated_and_refuses_what_it_cannot_read(world: World):
    for n in range(3):
        world.bet(f"b-{n}", f"r-{n}")
    first = stale(world, olderThanHours=0, limit=2)
    assert [i["roundId"] for i in first["items"]] == ["r-0", "r-1"] and first["nextCursor"]
    second = stale(world, olderThanHours=0, limit=2, cursor=first["nextCursor"])
    assert [i["roundId"] for i in second["items"]] == ["r-2"] and second["nextCursor"] is None
    for bad in ({"cursor": "not-a-cursor"}, {"olderThanHours": -1}, {"olderThanHours": "soon"}, {"limit": 0},
                {"olderThanHours": "nan"}):
        assert world.admin("GET", "/stale-rounds", query_string=bad).status_code == 422, bad


# --------------------------------------------------------------------------- the sweep's decisions


STATUSES = {
    "r-progress": ("InProgress", "refunded"),
    "r-progress-lower": ("inprogress", "refunded"),
    "r-completed": ("Completed", "awaiting-result"),
    "r-completing": ("CompleteInProcess", "awaiting-result"),
    "r-canceled": ("Canceled", "awaiting-refund"),
    "r-canceling": ("CANCELINPROCESS", "awaiting-refund"),
    "r-error": ({"error": 7, "description": "Round not found"}, "unknown-at-provider"),
    "r-odd": ({"error": 0, "roundStatus": "Paused"}, "unknown-at-provider"),
}


def test_the_sweep_acts_on_each_round_status_as_the_table_says(world: World):
    for n, (round_id, (status, _)) in enumerate(STATUSES.items()):
        world.bet(f"b-{n}", round_id, "1.00")
        world.fake.statuses[round_id] = status
    assert world.operator.balance("p1") == Decimal("92.00")

    r = sweep(world, olderThanHours=0, requestedBy="carol", reason="weekly check")

    assert outcomes(r) == {round_id: outcome for round_id, (_, outcome) in STATUSES.items()}
    items = {i["roundId"]: i for i in r.get_json()["rounds"]}
    assert set(r.get_json()) == {"rounds"} and all(set(i) == {"roundId", "userId", "providerStatus", "outcome"}
                                                   for i in items.values())
    assert items["r-progress-lower"]["providerStatus"] == "InProgress"
    assert items["r-canceling"]["providerStatus"] == "CancelInProcess"
    assert items["r-error"]["providerStatus"] is None and items["r-odd"]["providerStatus"] is None
    assert sent_for(world.fake) == {"r-progress": 1, "r-progress-lower": 1}
    assert world.operator.balance("p1") == Decimal("94.00")  # the two in progress came back
    assert [i["roundId"] for i in stale(world, olderThanHours=0)["items"]] == [
        r for r in STATUSES if not r.startswith("r-progress")]

    record = world.admin("GET", r.headers["Location"].removeprefix("/admin")).get_json()
    assert (record["requestedBy"], record["reason"], record["dryRun"], record["roundsFound"],
            record["cancelsSent"]) == ("bootstrap", "weekly check", False, 8, 2)  # the token's, not the body's
    assert all(i["statusCallId"] for i in record["rounds"])
    assert [bool(i["cancelCallId"]) for i in record["rounds"]] == [r.startswith("r-progress") for r in STATUSES]
    calls = world.admin("GET", "/provider/calls", query_string={"sweepId": record["id"]}).get_json()["items"]
    assert Counter(c["kind"] for c in calls) == {"GetRoundStatus": 8, "CancelRound": 2}
    assert {c["requestedBy"] for c in calls} == {"bootstrap"}
    metrics = world.app.test_client().get("/metrics").get_data(as_text=True)
    assert 'wallet_sweep_outcomes_total{outcome="awaiting-result"}' in metrics
    assert "wallet_sweep_cancels_sent_total" in metrics and "wallet_stale_rounds_found_total" in metrics


def test_a_dry_run_asks_the_same_and_sends_nothing(world: World):
    world.bet("b-1", "r-1")
    world.bet("b-2", "r-2")
    world.fake.statuses["r-2"] = "Completed"
    r = sweep(world, olderThanHours=0, dryRun=True)
    assert outcomes(r) == {"r-1": "would-cancel", "r-2": "awaiting-result"}
    assert len(world.fake.bodies("/history/GetRoundStatus")) == 2 and world.fake.bodies("/V4/CancelRound") == []
    assert world.operator.balance("p1") == Decimal("80.00")
    assert world.admin("GET", "/stale-rounds/sweeps").get_json()["items"][0]["dryRun"] is True


def test_a_round_whose_cancel_was_sent_is_never_sent_again_until_its_refund_arrives(world: World):
    world.fake.send_refund = False  # the provider accepts, its Refund is late
    world.bet("b-1", "r-1")
    assert outcomes(sweep(world, olderThanHours=0)) == {"r-1": "cancel-sent"}
    assert outcomes(sweep(world, olderThanHours=0)) == {"r-1": "cancel-sent"}
    assert outcomes(sweep(world, olderThanHours=0, dryRun=True)) == {"r-1": "cancel-sent"}
    assert sent_for(world.fake) == {"r-1": 1}
    assert stale(world, olderThanHours=0)["items"][0]["lastCancel"]["status"] == "confirmed"

    assert world.provider.call("Refund", userId="p1", reference="b-1")["error"] == 0  # the late Refund
    assert sweep(world, olderThanHours=0).get_json() == {"rounds": []}
    assert world.operator.balance("p1") == Decimal("100.00")


def test_a_staff_cancel_in_progress_counts_as_sent(world: World):
    world.fake.send_refund = False
    world.bet("b-1", "r-1")
    assert world.admin("POST", "/cancel-round", json={"reference": "b-1"}).get_json()["status"] == "confirmed"
    assert outcomes(sweep(world, olderThanHours=0)) == {"r-1": "cancel-sent"}
    assert sent_for(world.fake) == {"r-1": 1}


def test_a_sweep_cancel_without_an_answer_gives_the_round_back_to_the_next_sweep(world: World):
    world.bet("b-1", "r-1")
    world.fake.replies["/V4/CancelRound"] = HTML_502
    assert outcomes(sweep(world, olderThanHours=0)) == {"r-1": "cancel-failed"}
    del world.fake.replies["/V4/CancelRound"]
    assert outcomes(sweep(world, olderThanHours=0)) == {"r-1": "refunded"}
    assert len({b["uuid"] for b in world.fake.bodies("/V4/CancelRound")}) == 2
    assert world.operator.balance("p1") == Decimal("100.00")


def test_a_cancel_the_provider_refuses_is_not_sent_again_by_a_sweep(world: World):
    world.bet("b-1", "r-1")
    world.fake.replies["/V4/CancelRound"] = (200, {"error": 3, "description": "Round closed"}, "application/json")
    assert outcomes(sweep(world, olderThanHours=0)) == {"r-1": "cancel-rejected"}
    assert outcomes(sweep(world, olderThanHours=0)) == {"r-1": "cancel-rejected"}
    assert sent_for(world.fake) == {"r-1": 1}


def test_a_provider_that_does_not_answer_leaves_every_round_unknown_and_is_not_asked_forever(database_url: str):
    app = wallet(database_url, closed_port_url())
    w = World(app, FakeProvider())
    for n in range(5):
        w.bet(f"b-{n}", f"r-{n}", "1.00")
    r = sweep(w, olderThanHours=0)
    assert set(outcomes(r).values()) == {"unknown-at-provider"} and len(outcomes(r)) == 5
    calls = w.admin("GET", "/provider/calls", query_string={"kind": "GetRoundStatus"}).get_json()["items"]
    assert len(calls) == 3 and {c["status"] for c in calls} == {"failed"}  # then taken as down
    assert w.operator.balance("p1") == Decimal("95.00")
    app.extensions["wallet.engine"].dispose()


def test_two_sweeps_at_once_cancel_each_round_once(world: World):
    rounds = [f"r-{n}" for n in range(4)]
    for n, round_id in enumerate(rounds):
        world.bet(f"b-{n}", round_id, "2.00")
    world.fake.cancel_delay = 0.3
    answers: list[Any] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        answers.append(sweep(world, olderThanHours=0).get_json())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sent_for(world.fake) == {round_id: 1 for round_id in rounds}
    assert world.operator.balance("p1") == Decimal("100.00")
    for answer in answers:
        assert {i["roundId"] for i in answer["rounds"]} <= set(rounds)
        assert {i["outcome"] for i in answer["rounds"]} <= {"refunded", "cancel-sent"}
    assert world.operator.reconciliation()["ok"] is True


def test_the_sweep_refuses_what_it_cannot_read(world: World):
    for body in ({"olderThanHours": -1}, {"olderThanHours": "x"}, {"dryRun": "maybe"}, {"limit": 0},
                 {"requestedBy": ""}):
        assert world.admin("POST", "/stale-rounds/sweep", json=body).status_code == 422, body
    assert world.admin("GET", "/stale-rounds/sweeps/999").status_code == 404
    assert world.admin("GET", "/stale-rounds/sweeps/x").status_code == 404
    assert world.admin("GET", "/provider/calls/99999999999999999999").status_code == 404


# --------------------------------------------------------------------------- the CLI (cron)


def test_sweep_rounds_on_the_command_line_prints_what_it_did(world: World):
    runner = world.app.test_cli_runner()
    nothing = runner.invoke(args=["wallet", "sweep-rounds"])
    assert nothing.exit_code == 0 and "no stale round older than 24 h; nothing to do" in nothing.output
    world.bet("b-1", "r-1")
    world.bet("b-2", "r-2")
    world.fake.statuses["r-2"] = {"error": 7, "description": "Round not found"}

    dry = runner.invoke(args=["wallet", "sweep-rounds", "--older-than-hours", "0", "--dry-run"])
    assert dry.exit_code == 2  # a round could not be asked about: someone should look
    assert "would-cancel" in dry.output and "dry run: nothing sent" in dry.output
    listed = runner.invoke(args=["wallet", "stale-rounds", "--older-than-hours", "0"])
    assert listed.exit_code == 0 and "r-1" in listed.output and "r-2" in listed.output

    done = runner.invoke(args=["wallet", "sweep-rounds", "--older-than-hours", "0", "--json"])
    assert done.exit_code == 2 and '"outcome": "refunded"' in done.output
    record = world.admin("GET", "/stale-rounds/sweeps").get_json()["items"][0]
    assert record["requestedBy"] == "sweeper" and record["cancelsSent"] == 1
    assert world.operator.balance("p1") == Decimal("90.00")
