"""Staff accounts and tokens: the API, the CLI, passwords and the login lockout."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from tests.api.staff_world import StaffWorld
from wallet import clock
from wallet.people import staff
from wallet.people.staff import Actor, LoginRefused


@pytest.fixture
def world(database_url: str) -> Iterator[StaffWorld]:
    w = StaffWorld(database_url)
    yield w
    w.close()


def test_a_new_account_answers_its_first_token_once(world: StaffWorld):
    r = world.call("admin", "POST", "/staff", json={"userName": "alice", "role": "support",
                                                    "password": "correct horse battery"})
    assert r.status_code == 201
    created = r.get_json()
    assert set(created) == {"userName", "role", "token"} and created["role"] == "support"
    token = created["token"]
    assert token.startswith("lmw_") and len(token) >= 40
    assert world.call(token, "GET", "/staff").status_code == 200

    listed = world.call("admin", "GET", "/staff").get_data(as_text=True)
    one = world.call("admin", "GET", "/staff/alice").get_data(as_text=True)
    for text in (listed, one):
        assert token not in text and "argon2" not in text and "hash" not in text.lower().replace("haspassword", "")
    account = json.loads(one)
    assert (account["userName"], account["role"], account["active"], account["hasPassword"]) == (
        "alice", "support", True, True)
    assert [set(t) for t in account["tokens"]] == [{"id", "createdAt", "revokedAt"}]

    # stored hashed: the database holds the SHA-256 of the token, and an argon2id hash of the password
    [(token_hash,)] = world.sql("SELECT token_hash FROM staff_tokens t JOIN staff s ON s.id = t.staff_id "
                                "WHERE s.user_name = 'alice'")
    assert token_hash == hashlib.sha256(token.encode()).hexdigest()
    [(password_hash,)] = world.sql("SELECT password_hash FROM staff WHERE user_name = 'alice'")
    assert password_hash.startswith("$argon2id$") and "correct horse" not in password_hash


def test_another_token_is_new_each_time_and_revocable(world: StaffWorld):
    first = world.tokens["viewer"]
    a = world.ok("admin", "POST", "/staff/viewer-1/tokens", 201)
    b = world.ok("admin", "POST", "/staff/viewer-1/tokens", 201, json={"reason": "laptop"})
    assert len({first, a["token"], b["token"]}) == 3 and a["id"] != b["id"]
    for token in (first, a["token"], b["token"]):
        assert world.call(token, "GET", "/audit").status_code == 200
    revoked = world.ok("admin", "DELETE", f"/staff/viewer-1/tokens/{a['id']}")
    assert revoked["revoked"] is True and revoked["revokedAt"]
    assert world.call(a["token"], "GET", "/audit").status_code == 401
    again = world.ok("admin", "DELETE", f"/staff/viewer-1/tokens/{a['id']}")
    assert again["revoked"] is False
    assert world.call("admin", "DELETE", "/staff/viewer-1/tokens/999").status_code == 404
    assert world.call("admin", "DELETE", "/staff/support-1/tokens/{}".format(b["id"])).status_code == 404
    assert world.call("admin", "DELETE", "/staff/nobody/tokens/1").status_code == 404
    assert world.call("admin", "DELETE", "/staff/viewer-1/tokens/x").status_code == 404
    assert world.call(b["token"], "GET", "/audit").status_code == 200
    [entry] = world.audit(action="staff.token.revoke")
    assert (entry["actor"], entry["target"], entry["before"], entry["after"]) == (
        "admin-1", "staff:viewer-1", {"tokenId": a["id"], "revoked": False}, {"tokenId": a["id"], "revoked": True})


def test_staff_writes_refuse_bad_input_and_change_nothing(world: StaffWorld):
    before = world.snapshot()
    bad = [
        ("POST", "/staff", {"userName": "admin-1", "role": "viewer"}, 409),
        ("POST", "/staff", {"userName": "x", "role": "superuser"}, 422),
        ("POST", "/staff", {"userName": "x", "role": "viewer", "password": "short"}, 422),
        ("POST", "/staff", {"userName": "x" * 129, "role": "viewer"}, 422),
        ("POST", "/staff", {"role": "viewer"}, 422),
        ("POST", "/staff", {"userName": "x\u0000", "role": "viewer"}, 422),
        ("PATCH", "/staff/viewer-1", {}, 422),
        ("PATCH", "/staff/viewer-1", {"role": "root"}, 422),
        ("PATCH", "/staff/viewer-1", {"active": "no"}, 422),
        ("PATCH", "/staff/nobody", {"active": False}, 404),
        ("POST", "/staff/nobody/tokens", None, 404),
    ]
    for verb, path, body, status in bad:
        kwargs = {"json": body} if body is not None else {}
        r = world.call("admin", verb, path, **kwargs)
        assert r.status_code == status, (verb, path, body, r.get_data(as_text=True))
        assert set(r.get_json()) >= {"error", "description"}
    assert world.snapshot() == before


def test_html_in_names_and_reasons_is_stored_verbatim_and_answered_as_json(world: StaffWorld):
    name = "<b onclick=\"alert(1)\">eve&amp;<i>"  # no "/": user names never hold one (a path segment)
    world.add_staff(name, "viewer", reason="<img src=x onerror=alert(2)>")
    r = world.call("admin", "GET", "/staff")
    assert r.mimetype == "application/json" and name in [i["userName"] for i in r.get_json()["items"]]
    [entry] = world.audit(action="staff.create", target=f"staff:{name}")
    assert entry["target"] == f"staff:{name}" and entry["reason"] == "<img src=x onerror=alert(2)>"


def test_passwords_log_in_and_five_failures_in_a_row_lock_for_fifteen_minutes(world: StaffWorld):
    world.add_staff("bob", "finance", password="a long password")
    engine = create_engine(world.url)

    def login(password: str, at=None):  # type: ignore[no-untyped-def]
        with engine.begin() as conn:  # committed whatever the answer: the count is kept
            return staff.check_password(conn, "bob", password, "198.51.100.9", at)

    now = clock.utcnow()
    assert login("a long password", now) == Actor("bob", "finance", "site", "198.51.100.9")
    for _ in range(4):
        assert isinstance(login("wrong", now), LoginRefused)
    assert isinstance(login("a long password", now), Actor)  # a success resets the count
    for _ in range(4):
        refused = login("wrong", now)
        assert isinstance(refused, LoginRefused) and refused.locked_until is None
    locked = login("wrong", now)
    assert isinstance(locked, LoginRefused) and locked.locked_until == now + timedelta(minutes=15)
    still = login("a long password", now + timedelta(minutes=14))
    assert isinstance(still, LoginRefused) and still.locked_until is not None  # even the right password
    assert world.ok("viewer", "GET", "/staff/bob")["lockedUntil"] is not None  # in the database: every host
    assert isinstance(login("a long password", now + timedelta(minutes=16)), Actor)
    assert isinstance(login("nope"), LoginRefused) and login("nope").description == login("x" * 5000).description
    with engine.begin() as conn:
        unknown = staff.check_password(conn, "nobody", "whatever", None)
    assert isinstance(unknown, LoginRefused) and unknown.description == login("nope").description
    [entry] = world.audit(action="staff.locked")
    assert entry["actor"] == "bob" and entry["sourceAddress"] == "198.51.100.9"

    world.ok("admin", "PATCH", "/staff/bob", json={"active": False})
    assert isinstance(login("a long password"), LoginRefused)  # a disabled person cannot log in
    engine.dispose()


def test_the_cli_manages_staff_and_never_takes_a_password_from_argv(world: StaffWorld):
    runner = world.app.test_cli_runner()
    added = runner.invoke(args=["wallet", "staff", "add", "carol", "support", "--stdin"],
                          input="a secret phrase\n")
    assert added.exit_code == 0, added.output
    token = json.loads(added.stdout)["token"]
    assert world.call(token, "GET", "/staff").status_code == 200
    listed = runner.invoke(args=["wallet", "staff", "list"])
    assert listed.exit_code == 0 and "carol" in listed.output and token not in listed.output
    assert "argon2" not in runner.invoke(args=["wallet", "staff", "list", "--json"]).output

    issued = runner.invoke(args=["wallet", "staff", "token", "carol"])
    second = json.loads(issued.stdout)
    assert issued.exit_code == 0 and second["token"] != token
    revoked = runner.invoke(args=["wallet", "staff", "token", "carol", "--revoke", second["id"]])
    assert revoked.exit_code == 0 and world.call(second["token"], "GET", "/staff").status_code == 401

    prompted = runner.invoke(args=["wallet", "staff", "password", "carol"],
                             input="another phrase\nanother phrase\n")
    assert prompted.exit_code == 0 and "another phrase" not in prompted.output
    mismatch = runner.invoke(args=["wallet", "staff", "password", "carol"], input="one phrase\ntwo phrase\n" * 3)
    assert mismatch.exit_code != 0
    short = runner.invoke(args=["wallet", "staff", "password", "carol", "--stdin"], input="short\n")
    assert short.exit_code == 1 and "password" in short.output
    with create_engine(world.url).begin() as conn:
        assert isinstance(staff.check_password(conn, "carol", "another phrase", None), Actor)

    disabled = runner.invoke(args=["wallet", "staff", "disable", "carol"])
    assert disabled.exit_code == 0 and world.call(token, "GET", "/staff").status_code == 401
    assert runner.invoke(args=["wallet", "staff", "role", "carol", "admin"]).exit_code == 0
    assert runner.invoke(args=["wallet", "staff", "add", "carol", "viewer"]).exit_code == 1  # exists
    assert runner.invoke(args=["wallet", "staff", "add", "dan", "boss"]).exit_code == 2  # no such role

    entries = world.audit(target="staff:carol")
    assert {e["actor"] for e in entries} == {f"cli:{staff.os_login()}"}
    assert {e["channel"] for e in entries} == {"cli"} and {e["sourceAddress"] for e in entries} == {None}
    assert [e["action"] for e in entries] == ["staff.update", "staff.update", "staff.password", "staff.token.revoke",
                                              "staff.token.create", "staff.create"]
