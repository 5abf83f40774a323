"""The back-office site over HTTP (Flask's test client, real PostgreSQL): login and its cookie, lockout,
logout, CSRF, roles, escaping, and what the pages show."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import Operator, Provider, make_app
from tests.provider_fake import FakeProvider, in_process
from tests.site_helpers import PASSWORD, add_person, csrf_of, login, post_form
from wallet.ledger.models import audit_log, players


@pytest.fixture
def engine(app):
    return app.extensions["wallet.engine"]


def audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log)).scalar_one()


def player_status(engine, user_id: str = "player-1") -> str:
    with engine.connect() as conn:
        return conn.execute(select(players.c.status).where(players.c.user_id == user_id)).scalar_one()


# --------------------------------------------------------------------------- login, cookie, lockout, logout


def test_every_page_sends_a_visitor_without_a_session_to_the_login_form(client):
    r = client.get("/support/players/player-1")
    assert r.status_code == 302 and r.headers["Location"].startswith("/support/login?next=/support/players/player-1")
    r = client.get("/support/login")
    assert r.status_code == 200 and 'name="userName"' in r.get_data(as_text=True)
    assert client.get("/support/static/site.css").status_code == 200  # the login page's stylesheet


def test_login_sets_an_httponly_samesite_strict_cookie_and_the_page_names_the_person(engine, client):
    add_person(engine, "sam", "support")
    r = login(client, "sam")
    assert r.status_code == 302 and r.headers["Location"] == "/support/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    page = client.get("/support/").get_data(as_text=True)
    assert '<span id="who-name">sam</span>' in page and '<span class="role" id="who-role">support</span>' in page


def test_in_production_the_session_cookie_is_secure(database_url):
    app = make_app(database_url, env="production", secret_key="k" * 40)
    try:
        add_person(app.extensions["wallet.engine"], "pat", "viewer")
        client = app.test_client()
        page = client.get("/support/login", base_url="https://wallet.example")
        r = client.post("/support/login", base_url="https://wallet.example",
                        headers={"Referer": "https://wallet.example/support/login"},
                        data={"userName": "pat", "password": PASSWORD,
                              "csrf_token": csrf_of(page.get_data(as_text=True))})
        assert r.status_code == 302, r.get_data(as_text=True)
        assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    finally:
        app.extensions["wallet.engine"].dispose()


def test_five_wrong_passwords_in_a_row_lock_the_account_and_a_success_resets_the_count(engine, client):
    add_person(engine, "lee", "viewer")
    for _ in range(4):
        r = login(client, "lee", "wrong password")
        assert r.status_code == 401 and "Wrong user name or password." in r.get_data(as_text=True)
    assert login(client, "lee").status_code == 302  # the fifth is right: the count starts again
    client.post("/support/logout", data={"csrf_token": csrf_of(client.get("/support/").get_data(as_text=True))})
    for _ in range(4):
        assert login(client, "lee", "wrong again").status_code == 401
    r = login(client, "lee", "wrong a fifth time")
    assert r.status_code == 401 and "locked until" in r.get_data(as_text=True)
    r = login(client, "lee")  # the right password, but locked
    assert r.status_code == 401 and "locked until" in r.get_data(as_text=True)
    assert client.get("/support/").status_code == 302


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(engine, client):
    add_person(engine, "kim", "viewer")
    unknown, wrong = login(client, "nobody"), login(client, "kim", "nope nope")
    assert unknown.status_code == wrong.status_code == 401
    assert re.search(r'id="login-problem"[^>]*>([^<]*)<', unknown.get_data(as_text=True)).group(1) == \
        re.search(r'id="login-problem"[^>]*>([^<]*)<', wrong.get_data(as_text=True)).group(1)


def test_logout_ends_the_session_even_for_a_copy_of_the_cookie(engine, app):
    add_person(engine, "max", "viewer")
    browser, thief = app.test_client(), app.test_client()
    assert login(browser, "max").status_code == 302
    cookie = browser.get_cookie("wallet_site")
    thief.set_cookie("wallet_site", cookie.value)
    assert thief.get("/support/").status_code == 200
    r = browser.post("/support/logout", data={"csrf_token": csrf_of(browser.get("/support/").get_data(as_text=True))})
    assert r.status_code == 302 and r.headers["Location"] == "/support/login"
    assert browser.get("/support/").status_code == 302
    assert thief.get("/support/").status_code == 302


def test_a_disabled_person_is_logged_out_at_the_next_page(engine, client, app):
    add_person(engine, "ada", "admin")
    add_person(engine, "bob", "support")
    bob = app.test_client()
    assert login(bob, "bob").status_code == 302 and bob.get("/support/").status_code == 200
    login(client, "ada")
    r = post_form(client, "/support/staff/bob", "/support/staff/bob/active", active="no", reason="left the company",
                  confirm="yes")
    assert r.status_code == 302
    assert bob.get("/support/").status_code == 302
    assert login(bob, "bob").status_code == 401


# --------------------------------------------------------------------------- CSRF, roles, confirmation


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(engine, client, player):
    add_person(engine, "sue", "support")
    login(client, "sue")
    before = audit_count(engine)
    for data in ({"status": "frozen", "reason": "r", "confirm": "yes"},
                 {"status": "frozen", "reason": "r", "confirm": "yes", "csrf_token": "forged"}):
        r = client.post("/support/players/player-1/status", data=data)
        assert r.status_code == 400 and "Form refused" in r.get_data(as_text=True)
    assert player_status(engine) == "active" and audit_count(engine) == before
    # the login form too: a page of another site cannot log a browser in
    assert client.post("/support/login", data={"userName": "sue", "password": PASSWORD}).status_code == 400


def test_a_write_without_its_confirmation_or_reason_changes_nothing(engine, client, player):
    add_person(engine, "sue", "support")
    login(client, "sue")
    page = "/support/players/player-1"
    for fields in ({"status": "frozen", "reason": "asked by the player"}, {"status": "frozen", "confirm": "yes"},
                   {"status": "frozen", "reason": " ", "confirm": "yes"}, {"status": "melted", "reason": "x", "confirm": "yes"}):
        r = post_form(client, page, "/support/players/player-1/status", **fields)
        assert r.status_code == 422, fields
    assert player_status(engine) == "active"
    r = post_form(client, page, "/support/players/player-1/status", status="frozen", reason="asked by the player",
                  confirm="yes")
    assert r.status_code == 302 and player_status(engine) == "frozen"
    assert "Player player-1 is now frozen." in client.get(page).get_data(as_text=True)


def test_a_viewer_sees_no_write_forms_and_a_forged_post_is_403(engine, client, player):
    add_person(engine, "vic", "viewer")
    login(client, "vic")
    page = client.get("/support/players/player-1").get_data(as_text=True)
    assert 'method="post"' in page  # the logout form only
    assert "/adjustments" not in page and "/status" not in page
    before = audit_count(engine)
    r = post_form(client, "/support/players/player-1", "/support/players/player-1/adjustments", amount="50.00",
                  reference="forged-1", reason="free money", confirm="yes")
    assert r.status_code == 403 and "may not" in r.get_data(as_text=True)
    r = post_form(client, "/support/players/player-1", "/support/players/player-1/status", status="frozen",
                  reason="x", confirm="yes")
    assert r.status_code == 403
    assert client.get("/support/staff").status_code == 403
    assert player_status(engine) == "active" and audit_count(engine) == before


# --------------------------------------------------------------------------- what pages show


def test_html_in_a_reason_or_a_user_name_is_shown_as_text(engine, client, player):
    evil = "<img src=x onerror=alert(1)>"
    add_person(engine, evil, "support")
    login(client, evil)
    r = post_form(client, "/support/players/player-1", "/support/players/player-1/status", status="frozen",
                  reason='<script>alert("reason")</script>', confirm="yes")
    assert r.status_code == 302
    for path in ("/support/players/player-1", f"/support/audit?actor={evil}", "/support/"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
    page = client.get("/support/players/player-1").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;reason&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_pages_carry_a_strict_content_security_policy_and_no_inline_code(engine, client, player, provider):
    add_person(engine, "vic", "viewer")
    login(client, "vic")
    provider.call("Bet", userId="player-1", reference="b-1", roundId="r-1", amount="2.00")
    for path in ("/support/", "/support/?q=b-1", "/support/players/player-1", "/support/rounds/r-1",
                 "/support/rounds", "/support/stale-rounds", "/support/callbacks", "/support/audit",
                 "/support/approvals", "/support/games", "/support/references/b-1", "/support/login"):
        r = client.get(path)
        assert r.status_code in (200, 302), path
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        page = r.get_data(as_text=True)
        assert "<style" not in page and " style=" not in page and not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"<[^>]+\son[a-z]+=", page), path


def test_a_round_id_shared_by_two_players_leads_to_a_page_listing_both(engine, client, operator, provider):
    add_person(engine, "vic", "viewer")
    login(client, "vic")
    for user in ("alice", "bob"):
        operator.open_player(user)
        assert provider.call("Bet", userId=user, reference=f"bet-{user}", roundId="shared-1", amount="1.00")["error"] == 0
    r = client.get("/support/rounds/shared-1")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert 'id="round-owners"' in page
    assert "/support/rounds/shared-1?userId=alice" in page and "/support/rounds/shared-1?userId=bob" in page
    r = client.get("/support/rounds/shared-1?userId=bob")
    assert r.status_code == 200 and "bet-bob" in r.get_data(as_text=True)
    assert "bet-alice" not in r.get_data(as_text=True)
    # the search and the player's history link to the player's own round
    assert "/support/rounds/shared-1?userId=alice" in client.get("/support/?q=shared-1").get_data(as_text=True)


def test_the_search_finds_a_refused_bet_by_its_reference(engine, client, player, provider):
    add_person(engine, "vic", "viewer")
    login(client, "vic")
    answer = provider.call("Bet", userId="player-1", reference="too-big", roundId="r-9", amount="5000.00")
    assert answer["error"] == 1
    page = client.get("/support/?q=too-big").get_data(as_text=True)
    assert 'id="callbacks"' in page and "badge-refused" in page and "Insufficient" in page
    r = client.get("/support/references/too-big")
    assert r.status_code == 200 and 'id="no-entries"' in r.get_data(as_text=True)


@pytest.mark.parametrize("path, status", [
    ("/support/players/a%00b", 404), ("/support/rounds/%00", 404), ("/support/references/x%00", 404),
    ("/support/transactions/" + "9" * 30, 404), ("/support/players/" + "x" * 129, 404),
    ("/support/rounds/r1?userId=%00", 422), ("/support/players/p1?cursor=%00", 422),
    ("/support/?by=transaction&q=%C2%B2", 404), ("/support/?by=nonsense&q=x", 422),
    ("/support/rounds?status=lost", 422), ("/support/rounds?from=yesterday", 422), ("/support/callbacks?error=x", 422),
    ("/support/audit?cursor=zzz", 422), ("/support/provider-calls/abc", 404), ("/support/staff/a%00b", 404),
    ("/support/stale-rounds?olderThanHours=-1", 422),
])
def test_bad_input_gets_a_page_with_a_4xx_never_a_500(engine, client, path, status):
    add_person(engine, "ada", "admin")
    login(client, "ada")
    r = client.get(path)
    assert r.status_code == status, (path, r.get_data(as_text=True)[:300])
    assert r.mimetype == "text/html"


# --------------------------------------------------------------------------- the writes, through their forms


def test_support_sets_a_limit_through_the_form_and_a_bad_one_changes_nothing(engine, client, operator, player):
    add_person(engine, "sue", "support")
    login(client, "sue")
    page = "/support/players/player-1"
    for bad in ({"limit-maxBet": "-1"}, {"limit-maxBet": "1.234"}, {"limit-realityCheckMinutes": "0"},
                {"excludedUntil": "2001-01-01T00:00"}, {}):
        r = post_form(client, page, "/support/players/player-1/limits", reason="player asked", confirm="yes", **bad)
        assert r.status_code in (409, 422), (bad, r.status_code)
    assert operator.request("GET", "/players/player-1/limits").get_json()["maxBet"] is None
    r = post_form(client, page, "/support/players/player-1/limits", **{"limit-maxBet": "5.00"},
                  reason="player asked on chat", confirm="yes")
    assert r.status_code == 302
    assert str(operator.request("GET", "/players/player-1/limits").get_json()["maxBet"]) == "5.00"
    assert "maxBet: none -&gt; 5.00, at once" in client.get(page).get_data(as_text=True)


def test_adjustments_from_the_form_use_the_api_rules(engine, client, operator, player):
    add_person(engine, "pia", "platform")
    login(client, "pia")
    page = "/support/players/player-1"
    for amount in ("1.234", "ten", "0", ""):
        r = post_form(client, page, "/support/players/player-1/adjustments", amount=amount, reference="adj-1",
                      reason="cashier", confirm="yes")
        assert r.status_code == 422, amount
    assert operator.balance() == 1000
    r = post_form(client, page, "/support/players/player-1/adjustments", amount="-2500.00", reference="adj-1",
                  reason="withdrawal", confirm="yes")
    assert r.status_code == 409 and operator.balance() == 1000  # never below zero
    r = post_form(client, page, "/support/players/player-1/adjustments", amount="25.50", reference="adj-2",
                  reason="deposit", confirm="yes")
    assert r.status_code == 302 and str(operator.balance()) == "1025.50"  # platform: never waits for approval
    r = post_form(client, page, "/support/players/player-1/adjustments", amount="25.50", reference="adj-2",
                  reason="deposit", confirm="yes")
    assert r.status_code == 302 and str(operator.balance()) == "1025.50"
    assert "nothing was done twice" in client.get(page).get_data(as_text=True)


def test_an_admin_adds_a_person_whose_token_is_shown_once_and_works_on_the_api(engine, client):
    add_person(engine, "ada", "admin")
    login(client, "ada")
    r = post_form(client, "/support/staff", "/support/staff", userName="newbie", role="viewer",
                  password="a long enough password", reason="joined support", confirm="yes")
    assert r.status_code == 200
    token = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', r.get_data(as_text=True)).group(1)
    assert client.get("/admin/reconciliation", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in client.get("/support/staff/newbie").get_data(as_text=True)
    r = post_form(client, "/support/staff/newbie", "/support/staff/newbie/role", role="support", reason="promoted",
                  confirm="yes")
    assert r.status_code == 302 and '<dd id="person-role">support</dd>' in client.get("/support/staff/newbie").get_data(as_text=True)
    r = post_form(client, "/support/staff", "/support/staff", userName="newbie", role="viewer", reason="again",
                  confirm="yes")
    assert r.status_code == 409
    r = post_form(client, "/support/staff", "/support/staff", userName="x", role="emperor", reason="r", confirm="yes")
    assert r.status_code == 422


def test_an_admin_disables_a_game_and_its_bets_are_refused(engine, client, player, provider):
    add_person(engine, "ada", "admin")
    login(client, "ada")
    assert provider.call("Bet", userId="player-1", reference="b-1", amount="1.00", gameId="g-1")["error"] == 0
    r = post_form(client, "/support/games", "/support/games/g-1/enabled", enabled="no", reason="broken paytable",
                  confirm="yes")
    assert r.status_code == 302
    assert provider.call("Bet", userId="player-1", reference="b-2", amount="1.00", gameId="g-1")["error"] == 8
    audit_page = client.get("/support/audit?action=game").get_data(as_text=True)
    assert "broken paytable" in audit_page and "game:g-1" in audit_page


def test_after_login_the_site_only_goes_to_its_own_pages(engine, client):
    add_person(engine, "vic", "viewer")
    for target, landing in (("//evil.example/x", "/support/"), ("https://evil.example/", "/support/"),
                            ("/admin/reconciliation", "/support/"), ("/support/rounds?status=open", "/support/rounds?status=open")):
        page = client.get("/support/login").get_data(as_text=True)
        r = client.post("/support/login", data={"userName": "vic", "password": PASSWORD, "next": target,
                                                "csrf_token": csrf_of(page)})
        assert r.status_code == 302 and r.headers["Location"] == landing, target
        client.post("/support/logout", data={"csrf_token": csrf_of(client.get("/support/").get_data(as_text=True))})


def test_with_a_read_replica_the_pages_say_how_old_their_data_may_be(database_url, engine, client, player):
    add_person(engine, "vic", "viewer")
    login(client, "vic")
    assert 'id="data-age"' not in client.get("/support/players/player-1").get_data(as_text=True)
    app = make_app(database_url, read_database_url=database_url)  # a second engine: read as from a replica
    try:
        replica_client = app.test_client()
        login(replica_client, "vic")
        page = replica_client.get("/support/players/player-1").get_data(as_text=True)
        assert 'id="data-age"' in page and "may be up to 0 s old" in page
    finally:
        app.extensions["wallet.engine"].dispose()
        app.extensions["wallet.read_engine"].dispose()


def test_support_sweeps_the_stale_rounds_from_their_page_and_the_stake_comes_back(database_url):
    with FakeProvider() as fake:
        app = make_app(database_url, provider_api_url=fake.url, provider_timeout=2.0, provider_attempts=1)
        fake.wallet = in_process(app)
        try:
            Operator(app.test_client()).open_player("p1")
            assert Provider(app.test_client()).call("Bet", userId="p1", reference="b-stuck", roundId="r-stuck",
                                                    amount="12.00")["error"] == 0
            add_person(app.extensions["wallet.engine"], "sue", "support")
            client = app.test_client()
            login(client, "sue")
            page = "/support/stale-rounds?olderThanHours=0"
            assert "r-stuck" in client.get(page).get_data(as_text=True)
            r = post_form(client, page, "/support/stale-rounds/sweep", olderThanHours="0", reason="nightly check")
            assert r.status_code == 422  # not confirmed: nothing sent
            assert fake.bodies("/V4/CancelRound") == []
            r = post_form(client, page, "/support/stale-rounds/sweep", olderThanHours="0", reason="nightly check",
                          confirm="yes")
            assert r.status_code == 302
            assert [b["reference"] for b in fake.bodies("/V4/CancelRound")] == ["b-stuck"]
            assert Operator(app.test_client()).balance("p1") == 1000
            shown = client.get(r.headers["Location"]).get_data(as_text=True)
            assert "1 round(s) looked at; refunded: 1." in shown and "r-stuck" not in shown
        finally:
            app.extensions["wallet.engine"].dispose()


def test_anyone_may_ask_the_provider_for_a_round_status_and_the_call_joins_the_timeline(database_url):
    with FakeProvider() as fake:
        fake.statuses["r-1"] = "Completed"
        app = make_app(database_url, provider_api_url=fake.url, provider_timeout=2.0, provider_attempts=1)
        try:
            Operator(app.test_client()).open_player("p1")
            Provider(app.test_client()).call("Bet", userId="p1", reference="b-1", roundId="r-1", amount="1.00")
            add_person(app.extensions["wallet.engine"], "vic", "viewer")
            client = app.test_client()
            login(client, "vic")
            page = "/support/rounds/r-1?userId=p1"
            r = post_form(client, page, "/support/rounds/r-1/provider-status", userId="p1")
            assert r.status_code == 302
            shown = client.get(r.headers["Location"]).get_data(as_text=True)
            assert "Lucky Monaco says round r-1 is Completed." in shown
            assert "GetRoundStatus sent to Lucky Monaco" in shown and "<dd>vic</dd>" in shown
            add_person(app.extensions["wallet.engine"], "sue", "support")
            support = app.test_client()
            login(support, "sue")
            r = post_form(support, "/support/players/p1", "/support/players/p1/close-session", reason="player asked",
                          confirm="yes")
            assert r.status_code == 302 and len(fake.bodies("/V4/CloseSession")) == 1
            assert "CloseSession sent for p1: confirmed." in support.get(r.headers["Location"]).get_data(as_text=True)
        finally:
            app.extensions["wallet.engine"].dispose()


def test_an_admin_revokes_a_token_and_a_new_password_ends_the_person_s_sessions(engine, client, app):
    add_person(engine, "ada", "admin")
    add_person(engine, "bob", "support")
    login(client, "ada")
    page = "/support/staff/bob"
    r = post_form(client, page, "/support/staff/bob/tokens", reason="for the cashier script", confirm="yes")
    token = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', r.get_data(as_text=True)).group(1)
    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/admin/reconciliation", headers=api).status_code == 200
    token_id = re.findall(r"/support/staff/bob/tokens/(\d+)/revoke", client.get(page).get_data(as_text=True))[-1]
    r = post_form(client, page, f"/support/staff/bob/tokens/{token_id}/revoke", reason="leaked", confirm="yes")
    assert r.status_code == 302 and client.get("/admin/reconciliation", headers=api).status_code == 401

    bob = app.test_client()
    assert login(bob, "bob").status_code == 302
    for bad in ("short", ""):
        assert post_form(client, page, "/support/staff/bob/password", password=bad, reason="reset",
                         confirm="yes").status_code == 422
    assert bob.get("/support/").status_code == 200
    r = post_form(client, page, "/support/staff/bob/password", password="a brand new passphrase", reason="reset",
                  confirm="yes")
    assert r.status_code == 302
    assert bob.get("/support/").status_code == 302  # the old session ended with the old password
    assert login(bob, "bob").status_code == 401 and login(bob, "bob", "a brand new passphrase").status_code == 302


def test_platform_creates_a_player_and_support_may_not(engine, client, app, operator):
    add_person(engine, "pia", "platform")
    add_person(engine, "sue", "support")
    support = app.test_client()
    login(support, "sue")
    assert 'id="create-player"' not in support.get("/support/").get_data(as_text=True)
    assert post_form(support, "/support/", "/support/players", userId="p-9", currency="EUR", reason="new",
                     confirm="yes").status_code == 403
    login(client, "pia")
    assert 'id="create-player"' in client.get("/support/").get_data(as_text=True)
    for user_id, currency in (("p-9", "euro"), ("", "EUR"), ("a" * 129, "EUR")):
        assert post_form(client, "/support/", "/support/players", userId=user_id, currency=currency, reason="new",
                         confirm="yes").status_code == 422
    r = post_form(client, "/support/", "/support/players", userId="p-9", currency="eur", reason="sign-up",
                  confirm="yes")
    assert r.status_code == 302 and r.headers["Location"] == "/support/players/p-9"
    assert operator.request("GET", "/players/p-9").get_json()["currency"] == "EUR"
    assert post_form(client, "/support/", "/support/players", userId="p-9", currency="EUR", reason="again",
                     confirm="yes").status_code == 409
