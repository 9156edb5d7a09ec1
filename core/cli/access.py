"""`trellis user grant | list` and `trellis audit`: who may do what, and who did what."""

from __future__ import annotations

import argparse
import json

from core.auth import ROLES, AuditEntry, normalise_email, parse_role
from core.cli.common import Commands, acting, listing, open_store
from core.store import Store

GRANT_COLUMNS = [
    ("email", lambda g: g.email), ("role", lambda g: g.role), ("granted by", lambda g: g.granted_by),
    ("granted at", lambda g: f"{g.granted_at:%Y-%m-%d %H:%M}"),
]
AUDIT_COLUMNS = [
    ("when", lambda e: f"{e.happened_at:%Y-%m-%d %H:%M:%S}"), ("who", lambda e: e.actor), ("action", lambda e: e.action),
    ("on", lambda e: e.target), ("details", lambda e: json.dumps(e.details) if e.details else None),
]


def register(commands: Commands) -> None:
    user = commands.group("user", "Grant roles and list who has which.")
    sub = user.add("grant", _grant, "Give a person (by the e-mail their identity provider reports) a role.")
    sub.add_argument("email", metavar="EMAIL")
    sub.add_argument("role", metavar="ROLE", help=f"one of {', '.join(ROLES)}")
    user.add("list", listing(lambda store, args: store.list_users(), GRANT_COLUMNS), "List people and their roles.", json=True)

    sub = commands.add("audit", listing(_audit, AUDIT_COLUMNS), "Show who changed what and when, latest first.", json=True)
    sub.add_argument("--limit", type=int, default=50)
    sub.add_argument("--actor", help="only changes by this person")
    sub.add_argument("--target", help="only changes to this object (an id, or the start of one)")


def _grant(args: argparse.Namespace) -> None:
    with open_store(args, create=True) as store:
        grant = store.grant_role(normalise_email(args.email), parse_role(args.role), acting(store))
    print(f"{grant.email} is now {grant.role} (granted by {grant.granted_by})")


def _audit(store: Store, args: argparse.Namespace) -> list[AuditEntry]:
    return store.audit_log(args.limit, actor=args.actor, target=args.target)
