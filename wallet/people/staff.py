"""Staff: who may do what (roles), who is asking (Actor), and the accounts, tokens and passwords behind them.

The roles table is docs/protocol.md's (section "Staff, roles and audit"): every role reads everything
under /admin; writes are `allowed(role, action)`. The API checks it per route (blueprint.requires),
and the service functions check it again (`require`), so the CLI and the back-office site get the
same answer from the same rule.

Tokens are opaque (32 random bytes, URL-safe), shown once, stored as their SHA-256 (a token has the
entropy of a key: a slow hash buys nothing). Passwords are argon2id (argon2-cffi's defaults). The
failed logins in a row and the lock they earn live in the `staff` row, so that every host sees them.

`WALLET_ADMIN_TOKEN`, when set, is the built-in admin `bootstrap` (no row). The names `bootstrap`,
`sweeper` and any name with a colon (`cli:<login>`) are reserved: no account can take them, so an
audit entry's actor always says which kind of actor it was.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Row, func, select, update
from sqlalchemy.dialects.postgresql import insert

from wallet import clock
from wallet.people import audit
from wallet.jsonutil import text_problem
from wallet.ledger.models import STAFF_ROLES, staff, staff_tokens
from wallet.ledger.outcomes import AdminError, Conflict, Invalid, NotFound
from wallet.limits import IDENTIFIER_LENGTH

ROLES = STAFF_ROLES  # ("viewer", "support", "finance", "platform", "admin")

# What each role may write (reads are everyone's). Actions:
#   player.create       POST /admin/players
#   adjustment.create   POST /admin/players/<userId>/adjustments
#   adjustment.decide   approve or reject a pending adjustment (not one's own)
#   player.controls     freeze/unfreeze, limits, self-exclusion, close session
#   round.cancel        cancel-round and the stale-round sweep
#   game.toggle         enable/disable games
#   staff.manage        staff accounts and tokens
ACTIONS = ("player.create", "adjustment.create", "adjustment.decide", "player.controls", "round.cancel",
           "game.toggle", "staff.manage")
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "support": frozenset({"player.controls", "round.cancel"}),
    "finance": frozenset({"adjustment.create", "adjustment.decide"}),
    "platform": frozenset({"player.create", "adjustment.create"}),
    "admin": frozenset(ACTIONS),
}
# Roles whose adjustments at or above the threshold wait for a second person (platform's never do).
APPROVAL_ROLES = frozenset({"finance", "admin"})
# How each action reads in a refusal: "role viewer may not create players".
_PHRASES = {
    "player.create": "create players",
    "adjustment.create": "make adjustments",
    "adjustment.decide": "approve or reject adjustments",
    "player.controls": "freeze players or change their limits, exclusion or sessions",
    "round.cancel": "cancel rounds or sweep stale rounds",
    "game.toggle": "enable or disable games",
    "staff.manage": "manage staff or tokens",
}
BOOTSTRAP = "bootstrap"
RESERVED_NAMES = frozenset({BOOTSTRAP, "sweeper"})
CHANNELS = ("api", "cli", "site", "sweeper")

# Lockout of the back-office login: this many failures in a row lock the account for LOCK_FOR.
MAX_FAILED_LOGINS = 5
LOCK_FOR = timedelta(minutes=15)
TOKEN_PREFIX = "lmw_"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()


class Forbidden(AdminError):
    """A valid actor whose role does not allow the action (403)."""

    status = 403


def allowed(role: str, action: str) -> bool:
    """True when `role` may perform the write `action` (see PERMISSIONS); unknown roles and actions: False."""
    return action in PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True)
class Actor:
    """Who asks: the audit trail's actor and role, and where from."""

    name: str  # userName, "bootstrap", "sweeper", or "cli:<os login>"
    role: str
    channel: str  # "api" | "cli" | "site" | "sweeper"
    address: str | None = None  # the source address (after the proxy fix); None on the CLI


def os_login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def cli_actor(name: str | None = None, *, channel: str = "cli") -> Actor:
    """The CLI's actor: it runs on the server with the database's credentials, so it acts as an
    admin, named `cli:<os login>` (or `cli:<name>` when the command is told who asks)."""
    return Actor(f"cli:{name or os_login()}", "admin", channel, None)


def require(actor: Actor, action: str) -> None:
    """Raise Forbidden unless the actor's role allows `action`."""
    if not allowed(actor.role, action):
        raise Forbidden(f"role {actor.role} may not {_PHRASES.get(action, action)}")


# --------------------------------------------------------------------------- tokens and passwords


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def actor_for_token(conn: Connection, token: str | None, *, bootstrap_token: str | None = None,
                    address: str | None = None, channel: str = "api") -> Actor | None:
    """The actor a bearer token names, or None: missing, unknown, revoked, or its person disabled.
    `bootstrap_token` is WALLET_ADMIN_TOKEN (compared in constant time)."""
    if not token:
        return None
    if bootstrap_token and hmac.compare_digest(bootstrap_token.encode("utf-8"), token.encode("utf-8", "replace")):
        return Actor(BOOTSTRAP, "admin", channel, address)
    row = conn.execute(
        select(staff.c.user_name, staff.c.role)
        .select_from(staff_tokens.join(staff, staff.c.id == staff_tokens.c.staff_id))
        .where(staff_tokens.c.token_hash == token_hash(token), staff_tokens.c.revoked_at.is_(None),
               staff.c.active.is_(True))
    ).first()
    return Actor(row.user_name, row.role, channel, address) if row is not None else None


@dataclass(frozen=True)
class LoginRefused:
    """Why a login failed. `locked_until` is set when the account is locked (then say so to the person);
    the description never tells an unknown name from a wrong password."""

    description: str
    locked_until: datetime | None = None


def check_password(conn: Connection, user_name: str, password: str, address: str | None,
                   now: datetime | None = None, *, channel: str = "site") -> Actor | LoginRefused:
    """The back-office login. Five failures in a row lock the account for 15 minutes (a locked account
    refuses even the right password); a success resets the count. Commit `conn` whatever the answer:
    the count is kept in the row (FOR UPDATE: two hosts count the same failures once each)."""
    now = now or clock.utcnow()
    refused = LoginRefused("unknown user name or wrong password")
    if not isinstance(user_name, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return refused
    row = conn.execute(select(staff).where(staff.c.user_name == user_name).with_for_update()).first()
    if row is None or row.password_hash is None:
        _hasher.hash("a password nobody has")  # as slow as a real check: timing does not tell names apart
        return refused
    if row.locked_until is not None and row.locked_until > now:
        return LoginRefused(f"too many failed logins: locked until {row.locked_until.isoformat()}", row.locked_until)
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        failures = row.failed_logins + 1
        locked = now + LOCK_FOR if failures >= MAX_FAILED_LOGINS else None
        conn.execute(update(staff).where(staff.c.id == row.id).values(
            failed_logins=0 if locked else failures, locked_until=locked))
        if locked:
            audit.record(conn, Actor(row.user_name, row.role, channel, address), "staff.locked",
                         audit.target("staff", row.user_name), None, None, {"lockedUntil": locked})
            return LoginRefused(f"too many failed logins: locked until {locked.isoformat()}", locked)
        return refused
    if not row.active:
        return refused
    if row.failed_logins or row.locked_until is not None or _hasher.check_needs_rehash(row.password_hash):
        conn.execute(update(staff).where(staff.c.id == row.id).values(
            failed_logins=0, locked_until=None,
            password_hash=hash_password(password) if _hasher.check_needs_rehash(row.password_hash)
            else row.password_hash))
    return Actor(row.user_name, row.role, channel, address)


# --------------------------------------------------------------------------- accounts


def check_user_name(user_name: Any) -> str:
    if not isinstance(user_name, str) or not user_name or len(user_name) > IDENTIFIER_LENGTH:
        raise Invalid(f"userName: 1 to {IDENTIFIER_LENGTH} characters")
    problem = text_problem(user_name)
    if problem:
        raise Invalid(f"userName: {problem}")
    if user_name != user_name.strip() or any(ch in user_name for ch in "/:") or not user_name.isprintable():
        raise Invalid("userName: no blanks around it, no control characters, no '/' or ':'")
    if user_name in RESERVED_NAMES:
        raise Invalid(f"userName: {user_name!r} is reserved")
    return user_name


def check_role(role: Any) -> str:
    if role not in ROLES:
        raise Invalid(f"role: one of {', '.join(ROLES)}")
    return role


def check_new_password(password: Any) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(f"password: {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    problem = text_problem(password)
    if problem:
        raise Invalid(f"password: {problem}")
    return password


def staff_dict(row: Row[Any], tokens: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A staff account as the API shows it: never a hash, never a token."""
    out: dict[str, Any] = {
        "userName": row.user_name, "role": row.role, "active": row.active,
        "hasPassword": row.password_hash is not None,
        "lockedUntil": row.locked_until.isoformat() if row.locked_until is not None else None,
        "createdAt": row.created_at.isoformat(), "updatedAt": row.updated_at.isoformat(),
    }
    if tokens is not None:
        out["tokens"] = tokens
    return out


def _token_dict(row: Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "createdAt": row.created_at.isoformat(),
            "revokedAt": row.revoked_at.isoformat() if row.revoked_at is not None else None}


def _account(conn: Connection, user_name: str, *, lock: bool = False) -> Row[Any]:
    stmt = select(staff).where(staff.c.user_name == user_name)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound(f"staff {user_name} not found")
    return row


def _tokens(conn: Connection, staff_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(staff_tokens).where(staff_tokens.c.staff_id == staff_id).order_by(staff_tokens.c.id))
    return [_token_dict(r) for r in rows]


def list_staff(conn: Connection) -> list[dict[str, Any]]:
    """Every account with its tokens' ids and dates, by userName."""
    rows = conn.execute(select(staff).order_by(staff.c.user_name)).all()
    return [staff_dict(r, _tokens(conn, r.id)) for r in rows]


def get_staff(conn: Connection, user_name: str) -> dict[str, Any]:
    row = _account(conn, user_name)
    return staff_dict(row, _tokens(conn, row.id))


def _issue(conn: Connection, staff_id: int, now: datetime) -> tuple[int, str]:
    token = new_token()
    token_id = conn.execute(staff_tokens.insert().values(staff_id=staff_id, token_hash=token_hash(token),
                                                         created_at=now).returning(staff_tokens.c.id)).scalar_one()
    return token_id, token


def create_staff(conn: Connection, actor: Actor, user_name: str, role: str, password: str | None = None,
                 reason: str | None = None) -> tuple[dict[str, Any], str]:
    """A new account with a first token: (the account, the token, shown once). Conflict when the name
    is taken; Invalid for an unknown role, a reserved or unusable name, or a password too short."""
    require(actor, "staff.manage")
    check_user_name(user_name)
    check_role(role)
    if password is not None:
        check_new_password(password)
    now = clock.utcnow()
    row = conn.execute(
        insert(staff).values(user_name=user_name, role=role, active=True, failed_logins=0,
                             password_hash=hash_password(password) if password is not None else None,
                             created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["user_name"]).returning(staff)
    ).first()
    if row is None:
        raise Conflict(f"staff {user_name} already exists")
    token_id, token = _issue(conn, row.id, now)
    audit.record(conn, actor, "staff.create", audit.target("staff", user_name), reason, None,
                 {"role": role, "active": True, "hasPassword": password is not None, "tokenId": str(token_id)})
    return staff_dict(row), token


def update_staff(conn: Connection, actor: Actor, user_name: str, *, role: str | None = None,
                 active: bool | None = None, reason: str | None = None) -> dict[str, Any]:
    """Change an account's role or disable/enable it. A disabled account's tokens answer 401 and its
    password logs in no more (its tokens come back if it is enabled again and they were not revoked)."""
    require(actor, "staff.manage")
    if role is not None:
        check_role(role)
    if role is None and active is None:
        raise Invalid("give role or active")
    before = _account(conn, user_name, lock=True)
    values: dict[str, Any] = {}
    if role is not None and role != before.role:
        values["role"] = role
    if active is not None and active != before.active:
        values["active"] = active
    if not values:
        return staff_dict(before, _tokens(conn, before.id))
    after = conn.execute(update(staff).where(staff.c.id == before.id)
                         .values(**values, updated_at=clock.utcnow()).returning(staff)).one()
    audit.record(conn, actor, "staff.update", audit.target("staff", user_name), reason,
                 {k: getattr(before, k) for k in values}, {k: getattr(after, k) for k in values})
    return staff_dict(after, _tokens(conn, after.id))


def issue_token(conn: Connection, actor: Actor, user_name: str, reason: str | None = None) -> tuple[str, str]:
    """Another token for an account: (id, token); the token is shown once."""
    require(actor, "staff.manage")
    row = _account(conn, user_name, lock=True)
    token_id, token = _issue(conn, row.id, clock.utcnow())
    audit.record(conn, actor, "staff.token.create", audit.target("staff", user_name), reason, None,
                 {"tokenId": str(token_id)})
    return str(token_id), token


def revoke_token(conn: Connection, actor: Actor, user_name: str, token_id: int, reason: str | None = None
                 ) -> tuple[bool, dict[str, Any]]:
    """Revoke one of an account's tokens: (revoked now, the token's record). Revoking a revoked token
    changes nothing (False); NotFound when the account has no such token."""
    require(actor, "staff.manage")
    row = _account(conn, user_name, lock=True)
    token = conn.execute(select(staff_tokens).where(staff_tokens.c.id == token_id,
                                                    staff_tokens.c.staff_id == row.id).with_for_update()).first()
    if token is None:
        raise NotFound(f"staff {user_name} has no token {token_id}")
    if token.revoked_at is not None:
        return False, _token_dict(token)
    after = conn.execute(update(staff_tokens).where(staff_tokens.c.id == token.id)
                         .values(revoked_at=clock.utcnow()).returning(staff_tokens)).one()
    audit.record(conn, actor, "staff.token.revoke", audit.target("staff", user_name), reason,
                 {"tokenId": str(token.id), "revoked": False}, {"tokenId": str(token.id), "revoked": True})
    return True, _token_dict(after)


def set_password(conn: Connection, actor: Actor, user_name: str, password: str, reason: str | None = None) -> None:
    """Set (or replace) an account's back-office password; clears a lockout."""
    require(actor, "staff.manage")
    check_new_password(password)
    row = _account(conn, user_name, lock=True)
    conn.execute(update(staff).where(staff.c.id == row.id).values(
        password_hash=hash_password(password), failed_logins=0, locked_until=None, updated_at=clock.utcnow()))
    audit.record(conn, actor, "staff.password", audit.target("staff", user_name), reason,
                 {"hasPassword": row.password_hash is not None}, {"hasPassword": True})


def count_staff(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(staff)).scalar_one()
