"""`flask --app wsgi wallet ...`: the operator controls on the command line (the same functions as
/admin/games and /admin/players/<userId>/limits, wallet/controls/service.py).

    games [--enabled|--disabled]                  the game catalogue
    game-enable GAME_ID --reason R                enable a game
    game-disable GAME_ID --reason R               disable it: its Bets get 8
    limits USER_ID                                a player's limits, pending changes, self-exclusion
    set-limits USER_ID [--max-bet X] [--loss-day X] ... [--reality-check-minutes N]
               [--excluded-until ISO] --reason R  change some of them (`none` removes one)

Reads print a table, `--json` the API's JSON, `--csv` CSV. Writes print what they did, line by
line ("nothing changed" when nothing did), then the result as a table, or the API's JSON with
`--json` (the lines then go to stderr). Commands added to the `wallet_cli` group of
wallet/admin/cli.py (imported by wallet.register_commands).
"""

from __future__ import annotations

import re
from typing import Any

import click
from flask import current_app
from marshmallow import ValidationError

from wallet.admin.blueprint import engine as _engine
from wallet.admin.blueprint import read
from wallet.admin.cli import _emit, _fail, _print, output_options, table, wallet_cli
from wallet.admin.controls_schemas import LimitsPut, limit_changes
from wallet.people.staff import Actor, cli_actor
from wallet.controls import service
from wallet.ledger.outcomes import AdminError

GAME_COLUMNS = ("gameId", "gameName", "enabled", "firstSeenAt", "updatedAt")
LIMIT_COLUMNS = ("limit", "inForce", "pending", "effectiveAt")
# The options of set-limits: option name -> the body's field (a dotted path inside lossLimit/wagerLimit).
LIMIT_OPTIONS = {
    "max_bet": "maxBet",
    "loss_day": "lossLimit.day", "loss_week": "lossLimit.week", "loss_month": "lossLimit.month",
    "wager_day": "wagerLimit.day", "wager_week": "wagerLimit.week", "wager_month": "wagerLimit.month",
    "reality_check_minutes": "realityCheckMinutes",
    "excluded_until": "excludedUntil",
}
_DIGITS = re.compile(r"[0-9]+")


def _who() -> Actor:
    return cli_actor()


def _say(lines: list[str], as_json: bool) -> None:
    for line in lines:
        click.echo(line, err=as_json)


# --------------------------------------------------------------------------- games


@wallet_cli.command("games")
@click.option("--enabled/--disabled", "enabled", default=None, help="Only the enabled, or the disabled, games.")
@output_options
def games(enabled: bool | None, fmt: str) -> None:
    """The game catalogue: every game a Bet has named, enabled or not."""
    items = read(service.list_games, enabled)
    _emit(fmt, {"items": items}, items, GAME_COLUMNS)


def _set_game(game_id: str, enabled: bool, reason: str, as_json: bool) -> None:
    try:
        changed, game = service.set_game_enabled(_engine(), game_id, enabled, reason=reason, actor=_who())
    except AdminError as exc:
        _fail(exc)
    word = "enabled" if enabled else "disabled"
    done = f"game {game_id} {word}" + ("" if enabled else ": its Bets now get 8")
    _say([done if changed else f"game {game_id} is already {word}; nothing changed"], as_json)
    if as_json:
        _print(game)
    else:
        click.echo(table([game], GAME_COLUMNS))


@wallet_cli.command("game-enable")
@click.argument("game_id")
@click.option("--reason", required=True, help="Why (required; logged with the change).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (the summary goes to stderr).")
def game_enable(game_id: str, reason: str, as_json: bool) -> None:
    """Enable a game: its Bets are accepted again."""
    _set_game(game_id, True, reason, as_json)


@wallet_cli.command("game-disable")
@click.argument("game_id")
@click.option("--reason", required=True, help="Why (required; logged with the change).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (the summary goes to stderr).")
def game_disable(game_id: str, reason: str, as_json: bool) -> None:
    """Disable a game: its Bets get 8 (wins, refunds and cancels in it are processed as usual)."""
    _set_game(game_id, False, reason, as_json)


# --------------------------------------------------------------------------- limits


def limit_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per limit (maxBet, lossLimit.day, ...): in force, and any pending change with its time."""
    pending = {p["limit"]: p for p in view["pending"]}
    rows = []
    for name in service.LIMITS:
        value: Any = view
        for part in name.split("."):
            value = value[part]
        waiting = pending.get(name)
        rows.append({"limit": name, "inForce": "none" if value is None else value,
                     "pending": ("none" if waiting["value"] is None else waiting["value"]) if waiting else None,
                     "effectiveAt": waiting["effectiveAt"] if waiting else None})
    return rows


def _header(view: dict[str, Any]) -> str:
    if view["selfExcluded"]:
        exclusion = f"self-excluded until {view['excludedUntil']}"
    elif view["excludedUntil"]:
        exclusion = f"not self-excluded (the last exclusion ended {view['excludedUntil']})"
    else:
        exclusion = "not self-excluded"
    return (f"player {view['userId']} ({view['currency']}), {exclusion}\n"
            f"periods are calendar days, weeks (from Monday) and months in {view['timezone']}")


def _show_limits(fmt: str, view: dict[str, Any]) -> None:
    _emit(fmt, view, limit_rows(view), LIMIT_COLUMNS, header=_header(view))


@wallet_cli.command("limits")
@click.argument("user_id")
@output_options
def limits(user_id: str, fmt: str) -> None:
    """A player's limits in force, the loosenings pending with the time they take effect, the self-exclusion."""
    _show_limits(fmt, read(service.get_limits, user_id))


def _option_value(name: str, raw: str) -> Any:
    """An option as the API's body takes it: `none` is null, minutes a number, the rest text."""
    if raw.strip().lower() == "none":
        return None
    if name == "reality_check_minutes" and _DIGITS.fullmatch(raw):
        return int(raw)
    return raw


def _body(options: dict[str, str | None], reason: str) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": reason}
    for option, raw in options.items():
        if raw is None:
            continue
        path = LIMIT_OPTIONS[option]
        group, _, period = path.partition(".")
        value = _option_value(option, raw)
        if period:
            body.setdefault(group, {})[period] = value
        else:
            body[path] = value
    return body


@wallet_cli.command("set-limits")
@click.argument("user_id")
@click.option("--max-bet", help="The largest single bet (310 above it).")
@click.option("--loss-day", help="Net loss per calendar day (50 beyond it).")
@click.option("--loss-week", help="Net loss per calendar week, Monday to Sunday.")
@click.option("--loss-month", help="Net loss per calendar month.")
@click.option("--wager-day", help="Bets less refunds and cancels per day (50 beyond it).")
@click.option("--wager-week", help="... per week.")
@click.option("--wager-month", help="... per month.")
@click.option("--reality-check-minutes", help="A reality check (210) every N minutes of a session.")
@click.option("--excluded-until", help="Self-exclusion until then, ISO 8601 with an offset (2027-01-31T00:00:00Z); "
              "set or extend only.")
@click.option("--reason", required=True, help="Why (required; logged with the change).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (the summary goes to stderr).")
def set_limits(user_id: str, reason: str, as_json: bool, **options: str | None) -> None:
    """Change some of a player's limits: options given change, the rest stay; `none` removes one.

    Amounts in the player's currency, exact. Tightening takes effect at once; loosening (or removing)
    after WALLET_LIMIT_COOLING_OFF_HOURS, shown as pending until then. Exit 1 when refused (nothing
    is changed then).
    """
    try:
        values = LimitsPut().load(_body(options, reason))
        changes, excluded_until = limit_changes(values)
        outcome = service.set_limits(_engine(), current_app.config["WALLET_SETTINGS"], user_id, changes,
                                     excluded_until=excluded_until, reason=values["reason"], actor=_who())
    except (AdminError, ValidationError) as exc:
        _fail(exc)
    lines = [c.describe() for c in outcome.changes]
    if not outcome.changed:
        lines.append(f"nothing changed for player {user_id}")
    if outcome.excluded:
        call = outcome.close_session
        said = f"{call['status']} (provider call {call['id']})" if call else "not recorded (see the log)"
        lines.append(f"CloseSession at the provider: {said}")
    _say(lines, as_json)
    if as_json:
        _print(outcome.limits)
    else:
        click.echo("")
        _show_limits("table", outcome.limits)
