"""The support page in a real headless Chromium against gunicorn and PostgreSQL: search, round, player."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support import ADMIN_TOKEN, HttpWallet, gunicorn

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (requirements-dev.txt)")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium when run as root")
    return path


@pytest.fixture
def site(postgres_url: str) -> Iterator[str]:
    """A wallet under gunicorn with a refunded bet, an open bet and a settled round."""
    with gunicorn({"WALLET_DATABASE_URL": postgres_url}, workers=2) as base:
        wallet = HttpWallet(base)
        wallet.open_player("alice", "USD", "100.00")
        assert wallet.call("Bet", userId="alice", reference="bet-x", roundId="round-x", amount="7.25")["error"] == 0
        assert wallet.call("Refund", userId="alice", reference="bet-x")["error"] == 0
        assert wallet.call("Bet", userId="alice", reference="bet-y", roundId="round-y", amount="1.00")["error"] == 0
        assert wallet.call("Result", userId="alice", reference="win-y", roundId="round-y", amount="3.00")["error"] == 0
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_support_staff_find_a_refund_then_the_round_then_the_player(site, browser):
    page = browser.new_context(http_credentials={"username": "support", "password": ADMIN_TOKEN}).new_page()
    page.goto(f"{site}/support/")
    page.select_option("#by", "reference")
    page.fill("#q", "bet-x")
    page.click("button[type=submit]")
    expect = sync_api.expect
    expect(page.locator("h1")).to_have_text("Reference bet-x")
    expect(page.get_by_role("heading", name="Refunded by")).to_be_visible()
    assert page.locator("td.status-refunded").first.inner_text() == "refunded"

    page.locator("a", has_text="round-x").first.click()
    expect(page.locator("#round-status")).to_have_text("cancelled")
    expect(page.locator("#totals")).to_contain_text("7.25 USD")

    page.locator("a", has_text="alice").first.click()
    expect(page.locator("#balance")).to_have_text("102.00 USD")
    balances = page.locator("#history td.balance-after").all_inner_texts()
    assert balances == ["102.00", "99.00", "100.00", "92.75", "100.00"]


def test_support_search_by_round_and_unknown_player(site, browser):
    page = browser.new_context(http_credentials={"username": "x", "password": ADMIN_TOKEN}).new_page()
    page.goto(f"{site}/support/?by=round&q=round-y")
    sync_api.expect(page.locator("#round-status")).to_have_text("open")
    assert "(has a result)" in page.content()
    response = page.goto(f"{site}/support/?by=player&q=nobody")
    assert response is not None and response.status == 404
    sync_api.expect(page.locator("#message")).to_contain_text("player nobody not found")


def test_support_page_without_credentials_is_refused(site, browser):
    page = browser.new_context(http_credentials={"username": "x", "password": "wrong"}).new_page()
    response = page.goto(f"{site}/support/")
    assert response is not None and response.status == 401
    assert requests.get(f"{site}/support/players/alice", timeout=10).status_code == 401


def test_swagger_ui_renders_the_api_from_local_files(site, browser):
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site) else None)
    page.goto(f"{site}/docs")
    sync_api.expect(page.locator(".swagger-ui .title")).to_contain_text("Lucky Monaco operator wallet")
    sync_api.expect(page.get_by_text("/admin/transactions", exact=True).first).to_be_visible()
    assert [u for u in outside if not u.startswith("data:")] == []
