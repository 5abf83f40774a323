"""Who may read the admin side, the existing endpoints' shapes, CSV export, and the OpenAPI document."""

from __future__ import annotations

import base64
import csv
import io
from decimal import Decimal

import pytest

from config import Settings
from tests.admin_scenario import seed
from tests.conftest import make_app
from tests.support import ADMIN_TOKEN
from wallet import create_app
from wallet.admin.openapi import build_spec

ADMIN_GETS = ["/admin/transactions", "/admin/transactions/1", "/admin/transactions/by-reference/b1",
              "/admin/rounds/r1", "/admin/players/p1", "/admin/players/p1/history",
              "/admin/reports/daily?from=2026-01-01&to=2026-01-02", "/admin/reconciliation",
              "/admin/transactions?format=csv", "/admin/games", "/admin/games/g1", "/admin/players/p1/limits"]
SUPPORT_GETS = ["/support/", "/support/rounds/r1", "/support/players/p1", "/support/references/b1", "/support/games",
                "/support/transactions/1", "/support/stale-rounds"]


def basic(password: str, user: str = "staff") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("path", ADMIN_GETS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": ADMIN_TOKEN},
                                     basic(ADMIN_TOKEN), {"Authorization": f"Bearer {ADMIN_TOKEN}x"}])
def test_admin_api_answers_401_without_the_bearer_token(client, path, headers):
    r = client.get(path, headers=headers)
    assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", SUPPORT_GETS)
@pytest.mark.parametrize("headers", [{}, basic(ADMIN_TOKEN), {"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     {"Authorization": "Basic !!notbase64"}])
def test_the_site_sends_anyone_without_a_login_session_to_the_login_form(client, path, headers):
    r = client.get(path, headers=headers)
    assert r.status_code == 302 and r.headers["Location"].startswith("/support/login")


def test_the_callback_secret_never_opens_the_admin_side(database_url):
    app = make_app(database_url, callback_secret="the-callback-secret-0123")
    client = app.test_client()
    as_bearer = {"Authorization": "Bearer the-callback-secret-0123"}
    assert client.get("/admin/reconciliation", headers=as_bearer).status_code == 401
    assert client.get("/support/", headers=basic("the-callback-secret-0123")).status_code == 302  # to the login
    assert client.get("/admin/reconciliation", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    app.extensions["wallet.engine"].dispose()


def test_with_no_admin_token_configured_everything_admin_is_closed(database_url):
    app = create_app(Settings(database_url=database_url, admin_token=None))
    client = app.test_client()
    assert client.get("/admin/reconciliation", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/support/", headers=basic("")).status_code == 302  # to the login form
    app.extensions["wallet.engine"].dispose()


def test_existing_player_endpoints_keep_their_codes(operator):
    assert operator.request("POST", "/players", json={"userId": "x", "currency": "EUR"}).status_code == 201
    assert operator.request("POST", "/players", json={"userId": "x", "currency": "EUR"}).status_code == 409
    body = {"amount": "12.34", "reference": "dep-x", "reason": "deposit"}
    assert operator.request("POST", "/players/x/adjustments", json=body).status_code == 201
    assert operator.request("POST", "/players/x/adjustments", json=body).status_code == 200
    too_much = {"amount": "-99.00", "reference": "wd-x", "reason": "withdrawal"}
    assert operator.request("POST", "/players/x/adjustments", json=too_much).status_code == 409
    assert operator.request("PATCH", "/players/x", json={"status": "frozen", "reason": "test"}).get_json()["status"] == "frozen"
    assert operator.balance("x") == Decimal("12.34")
    assert operator.request("POST", "/players", json={"userId": "y"}).status_code == 422


def _csv(operator, query: str = "", accept: str | None = None) -> list[dict[str, str]]:  # noqa: ANN001
    headers = {**operator.headers, **({"Accept": accept} if accept else {})}
    r = operator.client.get(f"/admin/transactions{query}", headers=headers)
    assert r.status_code == 200 and r.mimetype == "text/csv", r.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True), newline="")))


def test_csv_export_by_format_or_accept_header_has_every_matching_row(provider, operator):
    ids = seed(provider, operator)
    rows = _csv(operator, "?format=csv&userId=p1")
    assert [r["transactionId"] for r in rows][-1] == "1" and len(rows) == 7
    assert _csv(operator, "?userId=p1", accept="text/csv") == rows
    by_id = {r["transactionId"]: r for r in rows}
    assert by_id[ids["open_bet"]]["amount"] == "-2.50"  # a plain decimal, not a defused formula
    assert by_id[ids["refund"]]["status"] == "applied"
    jpy = _csv(operator, "?format=csv&userId=p2&type=bet")
    assert jpy[0]["amount"] == "-100" and jpy[0]["balanceAfter"] == "4900"


def test_csv_export_defuses_formulas_and_quotes_separators(operator):
    operator.open_player("p", "USD", None)
    nasty = {"=HYPERLINK(\"x\")": "+1", "@SUM(A1)": "-cmd", "plain, with \"quotes\"": "line\nbreak"}
    for n, (reference, reason) in enumerate(nasty.items()):
        r = operator.request("POST", "/players/p/adjustments", json={"amount": f"{n + 1}", "reference": reference,
                                                                     "reason": reason})
        assert r.status_code == 201, r.get_data(as_text=True)
    rows = {r["note"]: r for r in _csv(operator, "?format=csv")}
    assert rows["'+1"]["reference"] == "'=HYPERLINK(\"x\")"
    assert rows["'-cmd"]["reference"] == "'@SUM(A1)"
    assert rows["line\nbreak"]["reference"] == "plain, with \"quotes\"" and rows["line\nbreak"]["amount"] == "3.00"


@pytest.mark.parametrize("query", ["type=nope", "status=open&type=win"])
def test_csv_export_refuses_a_bad_filter_before_streaming(operator, query):
    r = operator.request("GET", f"/transactions?format=csv&{query}")
    assert r.status_code == 422 and r.mimetype == "application/json" and r.get_json()["error"] == "invalid"


def test_openapi_documents_every_admin_route_and_every_callback(app, client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    assert spec == build_spec() and spec["openapi"].startswith("3.")
    documented = {(path, verb.upper()) for path, ops in spec["paths"].items() for verb in ops}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            path = rule.rule.replace("<int:tx_id>", "{transactionId}").replace("<path:reference>", "{reference}")
            path = path.replace("<user_id>", "{userId}").replace("<round_id>", "{roundId}")
            path = path.replace("<cancel_id>", "{cancelId}").replace("<call_id>", "{callId}")
            path = path.replace("<sweep_id>", "{sweepId}").replace("<path:game_id>", "{gameId}")
            path = path.replace("<user_name>", "{userName}").replace("<token_id>", "{tokenId}")
            path = path.replace("<request_id>", "{adjustmentId}")
            for verb in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, verb) in documented, (path, verb)
    for method in ("Check", "Balance", "Bet", "Result", "Refund", "EndRound"):
        assert (f"/V4/{method}", "POST") in documented
    bet = spec["components"]["schemas"]["Bet"]
    assert {"uuid", "userId", "reference", "amount", "roundId"} <= set(bet["required"])
    listing = spec["paths"]["/admin/transactions"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"userId", "roundId", "reference", "type", "status",
                                                           "from", "to", "limit", "cursor", "format"}
    assert "text/csv" in listing["responses"]["200"]["content"]


def test_docs_page_loads_swagger_ui_from_this_server(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "https://" not in page and "/docs/static/swagger-ui-bundle.js" in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = client.get(f"/docs/static/{asset}")
        assert r.status_code == 200 and len(r.data) > 1000
        r.close()


def test_report_money_is_exact_in_json(provider, operator):
    seed(provider, operator)
    raw = operator.request("GET", "/players/p1").get_data(as_text=True)
    assert '"balance":1012.50' in raw
    assert Decimal("1012.50") == operator.balance("p1")
