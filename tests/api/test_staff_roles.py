"""Every cell of the roles table (docs/admin.md), and 401 against 403.

Allowed: the answer is not 403 (nor 401) and the write happened. Refused: 403 with
`{"error": "forbidden", "description": "role X may not ..."}` and nothing in the database changed
(no audit entry either).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.api.staff_world import ROLES, StaffWorld


@pytest.fixture
def world(database_url: str) -> Iterator[StaffWorld]:
    w = StaffWorld(database_url)
    w.player("p1")
    w.bet("bet-1")  # records game g-1, opens round-1
    yield w
    w.close()


def _pending(w: StaffWorld) -> str:
    """A pending adjustment made by another finance person (so that no role is deciding its own)."""
    w.tokens["finance-2"] = w.add_staff("finance-2", "finance")
    return w.ok("finance-2", "POST", "/players/p1/adjustments", 202,
                json={"amount": "150.00", "reference": "big-1", "reason": "goodwill"})["id"]


# operation -> (roles allowed, setup returning the request's (verb, path, kwargs))
Operation = Callable[[StaffWorld], tuple[str, str, dict[str, Any]]]
OPERATIONS: dict[str, tuple[set[str], Operation]] = {
    "create player": ({"platform", "admin"}, lambda w: (
        "POST", "/players", {"json": {"userId": "p-new", "currency": "EUR"}})),
    "adjustment": ({"finance", "platform", "admin"}, lambda w: (
        "POST", "/players/p1/adjustments", {"json": {"amount": "-5.00", "reference": "adj-x", "reason": "fee"}})),
    "approve adjustment": ({"finance", "admin"}, lambda w: (
        "POST", f"/adjustments/{_pending(w)}/approve", {})),
    "reject adjustment": ({"finance", "admin"}, lambda w: (
        "POST", f"/adjustments/{_pending(w)}/reject", {"json": {"reason": "no ticket"}})),
    "freeze": ({"support", "admin"}, lambda w: (
        "PATCH", "/players/p1", {"json": {"status": "frozen", "reason": "fraud check"}})),
    "limits": ({"support", "admin"}, lambda w: (
        "PUT", "/players/p1/limits", {"json": {"maxBet": "5.00", "reason": "player asked"}})),
    "exclusion": ({"support", "admin"}, lambda w: (
        "PUT", "/players/p1/limits", {"json": {"excludedUntil": "2099-01-01T00:00:00Z", "reason": "player asked"}})),
    "close session": ({"support", "admin"}, lambda w: ("POST", "/players/p1/close-session", {})),
    "cancel-round": ({"support", "admin"}, lambda w: (
        "POST", "/cancel-round", {"json": {"reference": "bet-1", "reason": "stuck"}})),
    "stale-round sweep": ({"support", "admin"}, lambda w: (
        "POST", "/stale-rounds/sweep", {"json": {"olderThanHours": 0, "dryRun": True}})),
    "disable game": ({"admin"}, lambda w: (
        "PATCH", "/games/g-1", {"json": {"enabled": False, "reason": "supplier recall"}})),
    "create staff": ({"admin"}, lambda w: ("POST", "/staff", {"json": {"userName": "eve", "role": "viewer"}})),
    "change staff": ({"admin"}, lambda w: ("PATCH", "/staff/viewer-1", {"json": {"role": "support"}})),
    "disable staff": ({"admin"}, lambda w: ("PATCH", "/staff/viewer-1", {"json": {"active": False}})),
    "new token": ({"admin"}, lambda w: ("POST", "/staff/viewer-1/tokens", {})),
    "revoke token": ({"admin"}, lambda w: ("DELETE", "/staff/viewer-1/tokens/1", {})),
}
CELLS = [(op, role) for op in OPERATIONS for role in ROLES]


@pytest.mark.parametrize(("operation", "role"), CELLS, ids=[f"{op}-{role}" for op, role in CELLS])
def test_each_role_may_do_exactly_what_the_table_says(world: StaffWorld, operation: str, role: str):
    allowed, setup = OPERATIONS[operation]
    verb, path, kwargs = setup(world)
    before = world.snapshot()
    r = world.call(role, verb, path, **kwargs)
    if role in allowed:
        assert r.status_code not in (401, 403) and r.status_code < 300, (r.status_code, r.get_data(as_text=True))
        assert world.snapshot() != before
        entry = world.audit()[0]  # the newest: this write's (a freeze also closes the session: two)
        assert (entry["actor"], entry["role"], entry["channel"], entry["sourceAddress"]) == (
            f"{role}-1", role, "api", "203.0.113.7")
        assert world.snapshot()["audit"][0][0] > before["audit"][0][0]
    else:
        assert r.status_code == 403, r.get_data(as_text=True)
        assert r.get_json()["error"] == "forbidden"
        assert r.get_json()["description"].startswith(f"role {role} may not ")
        assert world.snapshot() == before


READS = ["/players/p1", "/players/p1/history", "/transactions", "/transactions?format=csv", "/rounds/round-1",
         "/reports/daily?from=2026-01-01&to=2026-01-02", "/reconciliation", "/cancels", "/provider/calls",
         "/games", "/games/g-1", "/players/p1/limits", "/stale-rounds", "/stale-rounds/sweeps", "/staff",
         "/staff/admin-1", "/adjustments?status=pending", "/audit", "/audit?format=csv", "/requests", "/rounds"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_everything_under_admin(world: StaffWorld, role: str):
    before = world.snapshot()
    for path in READS:
        r = world.call(role, "GET", path)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True))
    assert world.snapshot() == before


def test_missing_unknown_revoked_and_disabled_tokens_are_401_not_403(world: StaffWorld):
    def status(token: str | None, verb: str = "GET", path: str = "/players/p1", **kw: Any) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        r = world.client.open(f"/admin{path}", method=verb, headers=headers, **kw)
        if r.status_code == 401:
            assert r.get_json()["error"] == "unauthorized" and r.headers["WWW-Authenticate"].startswith("Bearer")
        return r.status_code

    write = {"verb": "POST", "path": "/players", "json": {"userId": "p-9", "currency": "USD"}}
    assert status(None) == 401 and status(None, **write) == 401
    assert status("lmw_" + "x" * 43) == 401 and status("") == 401 and status("x" * 5000) == 401
    assert status(world.tokens["viewer"]) == 200 and status(world.tokens["viewer"], **write) == 403

    # revoked: 401 at once, for reads and writes
    second = world.ok("admin", "POST", "/staff/viewer-1/tokens", 201)
    assert status(second["token"]) == 200
    world.ok("admin", "DELETE", f"/staff/viewer-1/tokens/{second['id']}")
    assert status(second["token"]) == 401 and status(second["token"], **write) == 401
    assert status(world.tokens["viewer"]) == 200  # the person's other token still works

    # disabled: every token of the person is 401; enabled again, the unrevoked ones work again
    world.ok("admin", "PATCH", "/staff/platform-1", json={"active": False})
    assert status(world.tokens["platform"]) == 401 and status(world.tokens["platform"], **write) == 401
    world.ok("admin", "PATCH", "/staff/platform-1", json={"active": True})
    assert status(world.tokens["platform"], **write) == 201


def test_no_role_can_be_a_staff_name_that_is_reserved_or_spoofs_another_actor(world: StaffWorld):
    for name in ("bootstrap", "sweeper", "cli:root", "sweeper:x", "a/b", " padded", "tab\there", ""):
        r = world.call("admin", "POST", "/staff", json={"userName": name, "role": "admin"})
        assert r.status_code == 422, (name, r.get_data(as_text=True))
    r = world.call("admin", "POST", "/staff", json={"userName": "zed", "role": "root"})
    assert r.status_code == 422 and "role" in r.get_json()["fields"]


def test_a_role_change_applies_to_the_next_request(world: StaffWorld):
    write = {"json": {"userId": "p-7", "currency": "USD"}}
    assert world.call("viewer", "POST", "/players", **write).status_code == 403
    world.ok("admin", "PATCH", "/staff/viewer-1", json={"role": "platform"})
    assert world.call("viewer", "POST", "/players", **write).status_code == 201
