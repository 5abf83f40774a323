"""The site's writes. Each form carries a reason and a ticked confirmation box (checked here: a form
without them changes nothing and answers 422), and calls the same service function as the API and
the CLI with the logged-in person as the actor; the service checks the role again and writes the
audit entry. A refusal is a page with its 4xx status; a success goes back to the page it came from
with a message (post/redirect/get).
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from wallet.people import staff
from wallet.admin.controls_schemas import LimitsPut, limit_changes
from wallet.admin.schemas import Adjustment, PlayerCreate
from wallet.admin.site import actor, bp
from wallet.controls import service as controls
from wallet.jsonutil import text_problem
from wallet.ledger import services
from wallet.ledger.outcomes import Invalid
from wallet.limits import FREE_TEXT_LENGTH, IDENTIFIER_LENGTH
from wallet.provider import calls, sweeper
from wallet.provider import service as provider_service
from wallet.provider.client import TOTAL_BUDGET


# Pending adjustments shown at once (a queue longer than this is a problem of its own).
APPROVALS_PAGE = 200


def form_text(name: str, limit: int, *, label: str | None = None, required: bool = True) -> str | None:
    """A form field the database can hold; Invalid (422) when required and missing, or unusable."""
    value = (request.form.get(name) or "").strip() or None
    label = label or name
    if value is None:
        if required:
            raise Invalid(f"{label} is required: nothing was changed")
        return None
    problem = text_problem(value) or (f"has more than {limit} characters" if len(value) > limit else None)
    if problem:
        raise Invalid(f"{label} {problem}: nothing was changed")
    return value


def confirmed_reason() -> str:
    """The write's reason, once its confirmation box is ticked."""
    if request.form.get("confirm") != "yes":
        raise Invalid("tick the confirmation box to confirm: nothing was changed")
    reason = form_text("reason", FREE_TEXT_LENGTH, label="a reason")
    assert reason is not None
    return reason


def _engine() -> Any:
    return current_app.extensions["wallet.engine"]


def _settings() -> Any:
    return current_app.config["WALLET_SETTINGS"]


def new_reference() -> str:
    """A fresh adjustment reference for the form (the person may type their own)."""
    return f"site-{secrets.token_hex(6)}"


@bp.context_processor
def _form_defaults() -> dict[str, Any]:
    return {"new_reference": new_reference()}


# --------------------------------------------------------------------------- players


@bp.post("/players")
def create_player() -> Response:
    """A new player (platform and admin), through the API's schema."""
    staff.require(actor(), "player.create")
    reason = confirmed_reason()
    values = PlayerCreate().load({"userId": (request.form.get("userId") or "").strip(),
                                  "currency": (request.form.get("currency") or "").strip().upper(), "reason": reason})
    with _engine().begin() as conn:
        services.create_player(conn, values["user_id"], values["currency"], actor=actor(), reason=reason)
    flash(f"Player {values['user_id']} created ({values['currency']}, balance 0).", "ok")
    return redirect(url_for("support.player", user_id=values["user_id"]))


@bp.post("/players/<user_id>/adjustments")
def adjust(user_id: str) -> Response:
    """An adjustment: posted at once, or (finance and admin, at or above the threshold) pending approval."""
    staff.require(actor(), "adjustment.create")
    reason = confirmed_reason()
    # the API's schema: the same rules for the amount (exact, the currency's digits) and the reference
    values = Adjustment().load({"amount": (request.form.get("amount") or "").strip(),
                                "reference": (request.form.get("reference") or "").strip(), "reason": reason})
    amount, reference = values["amount"], values["reference"]
    with _engine().begin() as conn:
        outcome = services.request_adjustment(conn, user_id, amount, reference, reason, actor=actor(),
                                              thresholds=_settings().thresholds)
    if outcome.status == "pending":
        flash(f"Adjustment {amount} ({reference}) is waiting for approval by another finance or admin person: "
              "no money has moved yet." if outcome.created else
              f"Adjustment {reference} was already requested: it is {outcome.status}.", "warn")
    else:
        flash(f"Adjustment {amount} ({reference}) posted." if outcome.created else
              f"Adjustment {reference} was already {outcome.status}: nothing was done twice.", "ok")
    return redirect(url_for("support.player", user_id=user_id))


@bp.post("/players/<user_id>/status")
def set_status(user_id: str) -> Response:
    """Freeze or unfreeze a player."""
    staff.require(actor(), "player.controls")
    status = request.form.get("status")
    if status not in ("active", "frozen"):
        raise Invalid("status must be active or frozen: nothing was changed")
    reason = confirmed_reason()
    with _engine().begin() as conn:
        services.set_status(conn, user_id, status, actor=actor(), reason=reason)
    if status == "frozen":  # also at the provider, as the API does: best effort, recorded
        calls.close_session_quietly(_engine(), _settings(), user_id, actor=actor(), reason="player frozen")
    flash(f"Player {user_id} is now {status}.", "ok")
    return redirect(url_for("support.player", user_id=user_id))


@bp.post("/players/<user_id>/limits")
def set_limits(user_id: str) -> Response:
    """Some of a player's limits and its self-exclusion (empty: unchanged; "none": removed), through the
    API's schema and service: tightening applies at once, loosening after the cooling-off."""
    staff.require(actor(), "player.controls")
    reason = confirmed_reason()
    body: dict[str, Any] = {"reason": reason}
    for name in controls.LIMITS:
        raw = (request.form.get(f"limit-{name}") or "").strip()
        if not raw:
            continue
        value: Any = None if raw.lower() == "none" else raw
        if name == "realityCheckMinutes" and value is not None and raw.isascii() and raw.isdigit():
            value = int(raw)
        group, _, period = name.partition(".")
        if period:
            body.setdefault(group, {})[period] = value
        else:
            body[name] = value
    until = (request.form.get("excludedUntil") or "").strip()
    if until:  # a datetime-local field, in UTC
        body["excludedUntil"] = until if until[-1:] == "Z" or "+" in until else until + "Z"
    if len(body) == 1:
        raise Invalid("give at least one limit or a self-exclusion: nothing was changed")
    limits, excluded_until = limit_changes(LimitsPut().load(body))
    outcome = controls.set_limits(_engine(), _settings(), user_id, limits, excluded_until=excluded_until,
                                  reason=reason, actor=actor())
    flash("Limits saved: " + "; ".join(c.describe() for c in outcome.changes) if outcome.changed
          else "Nothing changed: the limits were already so.", "ok")
    return redirect(url_for("support.player", user_id=user_id))


@bp.post("/players/<user_id>/close-session")
def close_session(user_id: str) -> Response:
    staff.require(actor(), "player.controls")
    reason = confirmed_reason()
    record = calls.close_session(_engine(), _settings(), user_id, actor=actor(), reason=reason)
    flash(f"CloseSession sent for {user_id}: {record['status']}.", "ok" if record["status"] == "confirmed" else "warn")
    return redirect(url_for("support.player", user_id=user_id))


# --------------------------------------------------------------------------- rounds and games


@bp.post("/rounds/<round_id>/cancel")
def cancel_round(round_id: str) -> Response:
    """CancelRound at the provider for the round's earliest open bet (answers once the provider has)."""
    staff.require(actor(), "round.cancel")
    user_id = form_text("userId", IDENTIFIER_LENGTH, label="the player")
    reason = confirmed_reason()
    record = provider_service.request_cancel(_engine(), _settings(), round_id=round_id, user_id=user_id, actor=actor(),
                                    reason=reason)
    category = "ok" if record["status"] == "confirmed" else "warn"
    answer = f"error {record['error']}" if record.get("error") is not None else (record.get("description") or "no answer")
    flash(f"CancelRound sent for round {round_id}: {record['status']} ({answer}).", category)
    return redirect(url_for("support.round_", round_id=round_id, userId=user_id))


@bp.post("/rounds/<round_id>/provider-status")
def provider_status(round_id: str) -> Response:
    """GetRoundStatus: what Lucky Monaco says of the round. Changes nothing (any role may ask; no
    reason asked), but the call is recorded and shows in the round's timeline."""
    user_id = form_text("userId", IDENTIFIER_LENGTH, label="the player")
    outcome = calls.round_status(_engine(), _settings(), round_id, user_id=user_id, requested_by=actor().name)
    if outcome.status == "confirmed" and outcome.answer is not None:
        flash(f"Lucky Monaco says round {round_id} is {outcome.answer.round_status}.", "info")
    else:
        flash(f"Lucky Monaco gave no round status for {round_id}: {outcome.description}.", "warn")
    return redirect(url_for("support.round_", round_id=round_id, userId=user_id))


@bp.post("/stale-rounds/sweep")
def sweep() -> Response:
    staff.require(actor(), "round.cancel")
    try:
        hours = float(form_text("olderThanHours", 12, label="the hours") or "24")
    except ValueError:
        raise Invalid("olderThanHours must be a number of hours: nothing was changed") from None
    if not 0 <= hours <= sweeper.MAX_HOURS:
        raise Invalid(f"olderThanHours must be between 0 and {sweeper.MAX_HOURS:g}: nothing was changed")
    reason = confirmed_reason()
    result = sweeper.sweep(_engine(), _settings(), older_than_hours=hours, dry_run=False, actor=actor(),
                           reason=reason, limit=sweeper.SWEEP_LIMIT, budget=TOTAL_BUDGET)
    outcomes = Counter(r["outcome"] for r in result["rounds"])
    flash(f"Sweep {result['id']}: {len(result['rounds'])} round(s) looked at"
          + "".join(f"; {outcome}: {n}" for outcome, n in sorted(outcomes.items())) + ".", "ok")
    return redirect(url_for("support.stale_rounds", olderThanHours=f"{hours:g}"))


@bp.post("/games/<game_id>/enabled")
def toggle_game(game_id: str) -> Response:
    staff.require(actor(), "game.toggle")
    enabled = request.form.get("enabled")
    if enabled not in ("yes", "no"):
        raise Invalid("enabled must be yes or no: nothing was changed")
    reason = confirmed_reason()
    controls.set_game_enabled(_engine(), game_id, enabled == "yes", reason=reason, actor=actor())
    flash(f"Game {game_id} is now {'enabled' if enabled == 'yes' else 'disabled'}.", "ok")
    return redirect(url_for("support.games"))


# --------------------------------------------------------------------------- staff (admin)


@bp.get("/staff")
def staff_list() -> str:
    staff.require(actor(), "staff.manage")
    with _engine().connect() as conn:
        people = staff.list_staff(conn)
    return render_template("support/staff.html", people=people, roles=staff.ROLES)


@bp.get("/staff/<user_name>")
def staff_person(user_name: str) -> str:
    staff.require(actor(), "staff.manage")
    with _engine().connect() as conn:
        person = staff.get_staff(conn, user_name)
    return render_template("support/staff_person.html", person=person, roles=staff.ROLES)


@bp.post("/staff")
def staff_create() -> str:
    """A new person with a password and a first API token, shown once on the answer page."""
    staff.require(actor(), "staff.manage")
    user_name = form_text("userName", IDENTIFIER_LENGTH, label="the user name")
    role = request.form.get("role")
    password = request.form.get("password") or None
    reason = confirmed_reason()
    with _engine().begin() as conn:
        person, token = staff.create_staff(conn, actor(), user_name, role, password, reason)
    return render_template("support/staff_token.html", person=person, token=token, created=True)


@bp.post("/staff/<user_name>/role")
def staff_role(user_name: str) -> Response:
    staff.require(actor(), "staff.manage")
    role = request.form.get("role")
    reason = confirmed_reason()
    with _engine().begin() as conn:
        staff.update_staff(conn, actor(), user_name, role=staff.check_role(role), reason=reason)
    flash(f"{user_name} now has the role {role}.", "ok")
    return redirect(url_for("support.staff_person", user_name=user_name))


@bp.post("/staff/<user_name>/active")
def staff_active(user_name: str) -> Response:
    staff.require(actor(), "staff.manage")
    active = request.form.get("active")
    if active not in ("yes", "no"):
        raise Invalid("active must be yes or no: nothing was changed")
    reason = confirmed_reason()
    with _engine().begin() as conn:
        staff.update_staff(conn, actor(), user_name, active=active == "yes", reason=reason)
    flash(f"{user_name} is now {'enabled' if active == 'yes' else 'disabled'}.", "ok")
    return redirect(url_for("support.staff_person", user_name=user_name))


@bp.post("/staff/<user_name>/password")
def staff_password(user_name: str) -> Response:
    staff.require(actor(), "staff.manage")
    password = request.form.get("password") or ""
    reason = confirmed_reason()
    with _engine().begin() as conn:
        staff.set_password(conn, actor(), user_name, password, reason)
    flash(f"{user_name}'s password is set (and any lock cleared).", "ok")
    return redirect(url_for("support.staff_person", user_name=user_name))


@bp.post("/staff/<user_name>/tokens")
def staff_token(user_name: str) -> str:
    staff.require(actor(), "staff.manage")
    reason = confirmed_reason()
    with _engine().begin() as conn:
        token_id, token = staff.issue_token(conn, actor(), user_name, reason)
        person = staff.get_staff(conn, user_name)
    return render_template("support/staff_token.html", person=person, token=token, token_id=token_id, created=False)


@bp.post("/staff/<user_name>/tokens/<int:token_id>/revoke")
def staff_revoke(user_name: str, token_id: int) -> Response:
    staff.require(actor(), "staff.manage")
    reason = confirmed_reason()
    with _engine().begin() as conn:
        revoked, _ = staff.revoke_token(conn, actor(), user_name, token_id, reason)
    flash(f"Token {token_id} of {user_name} {'revoked' if revoked else 'was already revoked'}.", "ok")
    return redirect(url_for("support.staff_person", user_name=user_name))


# --------------------------------------------------------------------------- approvals (four eyes)


@bp.get("/approvals")
def approvals() -> str:
    """Adjustments waiting for a second person; finance and admin may decide those they did not raise."""
    with _engine().connect() as conn:
        pending, _ = services.list_adjustment_requests(conn, status="pending", limit=APPROVALS_PAGE)
    return render_template("support/approvals.html", pending=pending)


@bp.post("/approvals/<int:request_id>/<any(approve, reject):decision>")
def decide(request_id: int, decision: str) -> Response:
    staff.require(actor(), "adjustment.decide")
    reason = confirmed_reason()
    with _engine().begin() as conn:
        services.decide_adjustment(conn, request_id, decision == "approve", actor=actor(), reason=reason)
    flash(f"Adjustment request {request_id} {'approved and posted' if decision == 'approve' else 'rejected'}.", "ok")
    return redirect(url_for("support.approvals"))
