"""The audit trail: one entry per write (API, CLI, sweeps), append-only in the database, searchable,
paginated, exported as CSV; reasons required for writes that change money, status, limits or games."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.api.staff_world import StaffWorld
from tests.provider_fake import FakeProvider, in_process
from wallet import clock


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def world(database_url: str, fake: FakeProvider) -> Iterator[StaffWorld]:
    w = StaffWorld(database_url, provider_api_url=fake.url)
    fake.wallet = in_process(w.app)
    w.player("p1")
    yield w
    w.close()


def newest(w: StaffWorld, action: str) -> dict:
    entries = w.audit(action=action)
    assert entries, f"no {action} entry"
    return entries[0]


def test_every_write_appends_one_entry_with_who_what_before_and_after(world: StaffWorld):
    created = newest(world, "player.create")
    assert (created["actor"], created["role"], created["target"], created["before"], created["after"]) == (
        "platform-1", "platform", "player:p1", None, {"userId": "p1", "currency": "USD", "status": "active"})
    deposit = newest(world, "adjustment.create")
    assert deposit["before"] == {"balance": "0.00"} and deposit["after"]["balance"] == "1000.00"
    assert deposit["reason"] == "deposit" and deposit["sourceAddress"] == "203.0.113.7"

    world.ok("support", "PATCH", "/players/p1", json={"status": "frozen", "reason": "KYC"})
    status = newest(world, "player.status")
    assert (status["actor"], status["before"], status["after"], status["reason"]) == (
        "support-1", {"status": "active"}, {"status": "frozen"}, "KYC")
    closed = newest(world, "session.close")  # the freeze closed the session at the provider too
    assert closed["actor"] == "support-1" and closed["reason"] == "player frozen"
    world.ok("support", "PATCH", "/players/p1", json={"status": "frozen", "reason": "again"})
    assert len(world.audit(action="player.status")) == 1  # nothing changed: nothing recorded
    world.ok("support", "PATCH", "/players/p1", json={"status": "active", "reason": "cleared"})

    world.bet("bet-1", "round-1", "10.00")
    world.ok("support", "PUT", "/players/p1/limits", json={"maxBet": "5.00", "lossLimit": {"day": "50.00"},
                                                            "reason": "player asked"})
    limits = newest(world, "limits.set")
    assert limits["before"] == {"maxBet": None, "lossLimit.day": None}
    assert limits["after"] == {"maxBet": "5.00", "lossLimit.day": "50.00"} and limits["target"] == "player:p1"

    world.ok("admin", "PATCH", "/games/g-1", json={"enabled": False, "reason": "supplier recall"})
    game = newest(world, "game.disable")
    assert (game["target"], game["before"], game["after"]) == ("game:g-1", {"enabled": True}, {"enabled": False})

    world.ok("support", "POST", "/cancel-round", 201, json={"reference": "bet-1", "reason": "stuck"})
    cancel = newest(world, "round.cancel")
    assert (cancel["actor"], cancel["target"], cancel["after"]["reference"]) == ("support-1", "round:round-1", "bet-1")

    world.ok("admin", "POST", "/staff", 201, json={"userName": "zoe", "role": "viewer"})
    assert newest(world, "staff.create")["after"]["role"] == "viewer"


def test_a_sweep_records_itself_and_each_cancel_it_sends(world: StaffWorld, fake: FakeProvider):
    world.bet("bet-s", "round-s", "10.00")
    r = world.ok("support", "POST", "/stale-rounds/sweep", json={"olderThanHours": 0, "reason": "weekly"})
    assert [i["outcome"] for i in r["rounds"]] == ["refunded"]
    run, = world.audit(action="sweep.run")
    assert run["actor"] == "support-1" and run["after"]["roundsFound"] == 1 and run["reason"] == "weekly"
    sent, = world.audit(action="sweep.cancel")
    assert (sent["target"], sent["after"]["sweepId"], sent["after"]["reference"]) == (
        "round:round-s", run["target"].removeprefix("sweep:"), "bet-s")

    runner = world.app.test_cli_runner()  # the cron sweeper
    world.bet("bet-t", "round-t", "10.00")
    assert runner.invoke(args=["wallet", "sweep-rounds", "--older-than-hours", "0"]).exit_code == 0
    cron = world.audit(action="sweep.run")[0]
    assert (cron["actor"], cron["role"], cron["channel"], cron["sourceAddress"]) == (
        "sweeper", "admin", "sweeper", None)
    assert world.audit(action="sweep.cancel")[0]["actor"] == "sweeper"


@pytest.mark.parametrize(("verb", "path", "body"), [
    ("PATCH", "/players/p1", {"status": "frozen"}),
    ("PATCH", "/players/p1", {"status": "frozen", "reason": ""}),
    ("PATCH", "/players/p1", {"status": "frozen", "reason": " \t"}),
    ("PATCH", "/players/p1", {"status": "frozen", "reason": None}),
    ("POST", "/players/p1/adjustments", {"amount": "5.00", "reference": "r-1"}),
    ("POST", "/players/p1/adjustments", {"amount": "5.00", "reference": "r-1", "reason": "  "}),
    ("PUT", "/players/p1/limits", {"maxBet": "5.00"}),
    ("PUT", "/players/p1/limits", {"maxBet": "5.00", "reason": ""}),
    ("PATCH", "/games/g-1", {"enabled": False}),
    ("PATCH", "/games/g-1", {"enabled": False, "reason": "   "}),
])
def test_writes_that_change_money_status_limits_or_games_need_a_reason(world: StaffWorld, verb, path, body):
    world.bet("bet-1")
    before = world.snapshot()
    r = world.call("admin", verb, path, json=body)
    assert r.status_code == 422 and r.get_json()["error"] == "invalid" and "reason" in r.get_data(as_text=True)
    assert world.snapshot() == before


def test_the_database_refuses_to_change_or_remove_an_entry(world: StaffWorld):
    engine = create_engine(world.url)  # the tests' superuser: the trigger holds for it too
    try:
        for statement in ("UPDATE audit_log SET reason = 'nothing to see'",
                          "DELETE FROM audit_log",
                          "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
                          "TRUNCATE audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                with engine.begin() as conn:
                    conn.execute(text(statement))
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() >= 2
            assert conn.execute(text("SELECT count(*) FROM audit_log WHERE reason = 'nothing to see'")).scalar() == 0
    finally:
        engine.dispose()


def test_search_filters_and_pages_newest_first(world: StaffWorld):
    for i in range(5):
        world.ok("platform", "POST", "/players/p1/adjustments", 201,
                 json={"amount": "1.00", "reference": f"a-{i}", "reason": f"r{i}"})
    world.ok("support", "PATCH", "/players/p1", json={"status": "frozen", "reason": "x"})

    everything = world.audit(limit="1000")
    ids = [int(e["id"]) for e in everything]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids))
    assert {e["actor"] for e in world.audit(actor="support-1")} == {"support-1"}
    assert [e["reason"] for e in world.audit(action="adjustment.create", actor="platform-1")][:5] == [
        "r4", "r3", "r2", "r1", "r0"]
    assert world.audit(action="adjustment.cre") == []  # a family is a whole prefix of dotted parts
    assert {e["target"] for e in world.audit(target="player:p1")} == {"player:p1"}
    assert world.audit(target="p1") == []

    seen, cursor = [], None
    while True:
        page = world.ok("viewer", "GET", "/audit", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == everything

    now = clock.utcnow()
    assert world.audit(**{"from": (now + timedelta(hours=1)).isoformat()}) == []
    assert len(world.audit(**{"from": (now - timedelta(hours=1)).isoformat(), "limit": "1000"})) == len(everything)
    assert world.audit(to=(now - timedelta(hours=1)).isoformat()) == []
    for bad in ({"cursor": "nope"}, {"limit": "0"}, {"limit": "1001"}, {"from": "yesterday"},
                {"actor": "x" * 300}, {"format": "xml"}, {"cursor": "dHg6MQ"}):
        r = world.call("viewer", "GET", "/audit", query_string=bad)
        assert r.status_code == 422 and r.get_json()["error"] == "invalid", bad


def test_csv_has_every_match_with_json_cells_and_no_formulas(world: StaffWorld):
    world.ok("support", "PATCH", "/players/p1", json={"status": "frozen", "reason": "=HYPERLINK(\"x\")"})
    r = world.call("viewer", "GET", "/audit", query_string={"format": "csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'filename="audit.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert list(rows[0]) == ["id", "at", "actor", "role", "channel", "action", "target", "reason", "before", "after",
                             "sourceAddress"]
    assert len(rows) == len(world.audit(limit="1000"))
    frozen = next(row for row in rows if row["action"] == "player.status")
    assert frozen["reason"] == "'=HYPERLINK(\"x\")"
    assert json.loads(frozen["before"]) == {"status": "active"} and json.loads(frozen["after"]) == {"status": "frozen"}
    by_accept = world.call("viewer", "GET", "/audit", query_string={"actor": "support-1"},
                           headers={"Accept": "text/csv"})
    lines = by_accept.get_data(as_text=True).splitlines()  # header, the freeze, and the session it closed
    assert by_accept.mimetype == "text/csv" and len(lines) == 3 and "player.status" in lines[2]
    refused = world.call("viewer", "GET", "/audit", query_string={"format": "csv", "from": "never"})
    assert refused.status_code == 422 and refused.mimetype == "application/json"


def test_the_cli_writes_are_audited_and_the_cli_reads_the_trail(world: StaffWorld):
    runner = world.app.test_cli_runner()
    out = runner.invoke(args=["wallet", "set-status", "p1", "frozen", "--reason", "from the shell"])
    assert out.exit_code == 0, out.output
    entry = newest(world, "player.status")
    assert entry["actor"].startswith("cli:") and entry["channel"] == "cli" and entry["role"] == "admin"
    assert entry["reason"] == "from the shell" and entry["sourceAddress"] is None
    assert runner.invoke(args=["wallet", "set-status", "p1", "active"]).exit_code == 2  # --reason is required

    listed = runner.invoke(args=["wallet", "audit", "--action", "player"])
    assert listed.exit_code == 0 and "from the shell" in listed.output
    as_json = json.loads(runner.invoke(args=["wallet", "audit", "--target", "player:p1", "--json"]).output)
    assert as_json["items"][0]["action"] == "session.close"
    as_csv = runner.invoke(args=["wallet", "audit", "--csv"])
    assert as_csv.exit_code == 0 and as_csv.output.startswith("id,at,actor")
    assert runner.invoke(args=["wallet", "audit", "--from", "never"]).exit_code == 1
    assert world.balance() == Decimal("1000.00")


def test_the_source_address_believes_forwarded_for_only_from_trusted_proxies(database_url: str):
    import ipaddress

    w = StaffWorld(database_url, trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))
    try:
        body = {"userId": "p-a", "currency": "USD"}
        w.ok("platform", "POST", "/players", 201, json=body, headers={"X-Forwarded-For": "198.51.100.23"},
             environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert w.audit(action="player.create")[0]["sourceAddress"] == "198.51.100.23"
        w.ok("platform", "POST", "/players", 201, json={**body, "userId": "p-b"},
             headers={"X-Forwarded-For": "198.51.100.23"}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert w.audit(action="player.create")[0]["sourceAddress"] == "203.0.113.9"  # spoofed: ignored
    finally:
        w.close()
