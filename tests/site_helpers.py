"""Helpers of the back-office site's tests: staff accounts, logging in, the CSRF token of a page."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import Engine, create_engine

from wallet.people import staff

PASSWORD = "correct horse battery staple"
BOOTSTRAP = staff.Actor(staff.BOOTSTRAP, "admin", "cli", None)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_person(engine_or_url: Engine | str, user_name: str, role: str, password: str = PASSWORD) -> None:
    """A staff account with a site password, made the way an admin makes one."""
    engine = create_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with engine.begin() as conn:
            staff.create_staff(conn, BOOTSTRAP, user_name, role, password, "test account")
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: Any, user_name: str, password: str = PASSWORD) -> Any:
    """Log a Flask test client in through the form; the answer to the POST."""
    page = client.get("/support/login")
    return client.post("/support/login", data={"userName": user_name, "password": password,
                                               "csrf_token": csrf_of(page.get_data(as_text=True))})


def post_form(client: Any, page_path: str, action: str, **fields: Any) -> Any:
    """POST `fields` to `action` with the CSRF token of `page_path` (as the browser sends a form)."""
    token = csrf_of(client.get(page_path).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **fields})


def site_client(app: Any, role: str = "admin") -> Any:
    """A Flask test client logged in to the site as a new person of `role`."""
    name = f"site-{role}-{uuid.uuid4().hex[:8]}"
    add_person(app.extensions["wallet.engine"], name, role)
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client
