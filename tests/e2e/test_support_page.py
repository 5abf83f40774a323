"""The back-office site in a real headless Chromium against gunicorn, PostgreSQL and a fake Lucky Monaco:
whole tasks as staff do them (log in, find, act, check), a screenshot of each step under
test-artifacts/screenshots/, and not one Content-Security-Policy violation on any page."""

from __future__ import annotations

import shutil
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.site_helpers import PASSWORD, add_person
from tests.provider_fake import FakeProvider
from tests.support import ROOT, HttpWallet, gunicorn

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (requirements-dev.txt)")
expect = sync_api.expect

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium when run as root")
    return path


@dataclass
class Site:
    base: str
    wallet: HttpWallet
    provider: FakeProvider


@pytest.fixture
def site(postgres_url: str) -> Iterator[Site]:
    """The wallet under gunicorn (two workers: a CancelRound's refund comes back while it waits), a fake
    provider that refunds through it, staff accounts, and a player with some history."""
    with FakeProvider() as provider:
        env = {"WALLET_DATABASE_URL": postgres_url, "LUCKY_MONACO_API_URL": provider.url, "LUCKY_MONACO_TIMEOUT": "5",
               "WALLET_SECRET_KEY": "site-test-secret-key-0123456789abcdef", "WALLET_APPROVAL_THRESHOLDS": "USD=1000"}
        with gunicorn(env, workers=2) as base:
            wallet = HttpWallet(base)
            provider.wallet = lambda method, body: wallet.send(
                method, {"providerId": "LuckyMonaco", "uuid": uuidlib.uuid4().hex, **body})
            for name, role in (("sam", "support"), ("fay", "finance"), ("fin", "finance"), ("vic", "viewer")):
                add_person(postgres_url, name, role)
            wallet.open_player("alice", "USD", "100.00")
            yield Site(base, wallet, provider)


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """One person's browser tab: every console message about the Content-Security-Policy is kept."""

    page: Any
    name: str
    violations: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, step: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}-{self.shots:02d}-{step}.png"), full_page=True)

    def check_csp(self) -> None:
        assert self.violations == [], self.violations


def open_tab(browser: Any, base: str, name: str) -> Visit:
    page = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900}).new_page()
    visit = Visit(page, name)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            visit.violations.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: visit.violations.append(f"page error: {error}"))
    return visit


def log_in(visit: Visit, user_name: str, password: str = PASSWORD) -> None:
    visit.page.goto("/support/")
    visit.page.get_by_label("User name").fill(user_name)
    visit.page.get_by_label("Password").fill(password)
    visit.page.get_by_role("button", name="Log in").click()


def test_a_support_agent_logs_in_finds_a_refused_bet_and_cancels_a_round(site: Site, browser: Any):
    w = site.wallet
    assert w.call("Bet", userId="alice", reference="bet-too-big", roundId="round-big", amount="500.00")["error"] == 1
    assert w.call("Bet", userId="alice", reference="bet-open", roundId="round-open", amount="7.25")["error"] == 0
    tab = open_tab(browser, site.base, "support")
    page = tab.page

    # five wrong passwords lock an account, whatever is typed next
    for _ in range(5):
        log_in(tab, "vic", "not the password")
    expect(page.locator("#login-problem")).to_contain_text("locked until")
    log_in(tab, "vic")
    expect(page.locator("#login-problem")).to_contain_text("locked until")
    tab.shot("locked")

    log_in(tab, "sam")
    expect(page.locator("#who-name")).to_have_text("sam")
    expect(page.locator("#who-role")).to_have_text("support")
    tab.shot("logged-in")

    # a bet the wallet refused is found by its reference: no money moved, and why
    page.get_by_label("Reference, uuid, player, round or transaction id").fill("bet-too-big")
    page.get_by_role("button", name="Search").click()
    refused = page.locator("#callbacks tr.refused")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("bet")
    expect(refused.locator(".badge")).to_have_text("refused")
    tab.shot("refused-bet")

    # the open round, then CancelRound with a reason and a confirmation
    page.get_by_label("Reference, uuid, player, round or transaction id").fill("round-open")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="round round-open of player alice").click()
    expect(page.locator("#round-status")).to_have_text("open")
    tab.shot("round-open")
    cancel = page.locator("#cancel-action")
    expect(cancel.get_by_role("button", name="Cancel round")).to_be_disabled()  # until confirmed (site.js)
    cancel.get_by_label("Reason (kept in the audit trail)").fill("player's game froze, ticket 812")
    cancel.get_by_label("I confirm: ask Lucky Monaco to cancel round round-open of alice").check()
    cancel.get_by_role("button", name="Cancel round").click()
    expect(page.locator(".notice-ok")).to_contain_text("CancelRound sent for round round-open: confirmed")
    expect(page.locator("#round-status")).to_have_text("cancelled")
    call = page.locator("#timeline li.call")
    expect(call).to_contain_text("CancelRound sent to Lucky Monaco")
    expect(call).to_contain_text("player's game froze, ticket 812")
    expect(call.locator("dd").first).to_have_text("sam")
    assert "{'" not in page.content()  # a call record is fields, never a Python dict
    tab.shot("round-cancelled")

    call.get_by_role("link").click()
    expect(page.locator("#request-body")).to_contain_text("bet-open")
    expect(page.locator("#attempts tbody tr")).to_have_count(1)
    tab.shot("provider-call")

    page.get_by_role("link", name="alice").first.click()
    expect(page.locator("#balance")).to_have_text("100.00 USD")
    tab.shot("player")
    tab.check_csp()
    assert [b["reference"] for b in site.provider.bodies("/V4/CancelRound")] == ["bet-open"]


def test_two_finance_people_raise_and_approve_an_adjustment_then_read_the_audit_trail(site: Site, browser: Any):
    fay = open_tab(browser, site.base, "finance-fay")
    log_in(fay, "fay")
    page = fay.page
    page.goto("/support/players/alice")
    page.get_by_text("Credit or debit the balance (adjustment)").click()
    form = page.locator("#adjust-action")
    form.get_by_label("Amount in USD (negative to debit)").fill("1500.00")
    form.get_by_label("Reason (kept in the audit trail)").fill("goodwill <b>credit</b> approved by VIP desk")
    form.get_by_label("I have checked the player and the amount: post this adjustment").check()
    fay.shot("adjustment-form")
    form.get_by_role("button", name="Post adjustment").click()
    expect(page.locator(".notice-warn")).to_contain_text("waiting for approval")
    expect(page.locator("#balance")).to_have_text("100.00 USD")
    page.get_by_role("link", name="Approvals").click()
    expect(page.locator("#pending tbody tr")).to_have_count(1)
    expect(page.locator("#pending")).to_contain_text("yours: another person decides")
    fay.shot("own-request")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    fay.check_csp()

    fin = open_tab(browser, site.base, "finance-fin")
    log_in(fin, "fin")
    page = fin.page
    page.get_by_role("link", name="Approvals").click()
    row = page.locator("#pending tbody tr").first
    expect(row).to_contain_text("goodwill <b>credit</b> approved by VIP desk")  # shown as text
    row.get_by_text("Approve or reject").click()
    approve = row.locator("form").first
    approve.get_by_label("Reason (kept in the audit trail)").fill("checked with the VIP desk")
    approve.locator("input[name=confirm]").check()
    fin.shot("approve")
    approve.get_by_role("button", name="Approve").click()
    expect(page.locator(".notice-ok")).to_contain_text("approved and posted")
    expect(page.locator("#pending tbody tr")).to_have_text("nothing is waiting")
    page.goto("/support/players/alice")
    expect(page.locator("#balance")).to_have_text("1600.00 USD")

    page.get_by_role("link", name="Audit trail", exact=True).click()
    page.get_by_label("Who").fill("fin")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("adjustment.approve")
    expect(rows.first).to_contain_text("checked with the VIP desk")
    expect(rows.first).to_contain_text("player:alice")
    fin.shot("audit-trail")
    page.get_by_label("Who").fill("")
    page.get_by_label("Action (or family, e.g. adjustment)").fill("adjustment")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit tbody tr")).to_have_count(3)  # the deposit, fay's request, fin's approval
    fin.check_csp()
    assert site.wallet.admin("GET", "/players/alice").json(parse_float=Decimal)["balance"] == Decimal("1600.00")


def test_swagger_ui_renders_the_api_from_local_files(site: Site, browser: Any):
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.base) else None)
    page.goto(f"{site.base}/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Lucky Monaco operator wallet")
    expect(page.get_by_text("/admin/transactions", exact=True).first).to_be_visible()
    assert [u for u in outside if not u.startswith("data:")] == []
    assert requests.get(f"{site.base}/support/players/alice", timeout=10, allow_redirects=False).status_code == 302
