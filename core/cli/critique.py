"""`trellis critique | annotations | review`: critique a student trace, list what it proposed, and decide on it.

litellm is imported only when a model is called (core.llm), so the offline structural critic starts fast.
"""

from __future__ import annotations

import argparse
import sys

from core.cli.common import Commands, acting, listing, open_store
from core.cli.output import print_records
from core.critique.models import Annotation
from core.model_catalog import CatalogError, load_catalog, model_entry
from core.store import Store

ANNOTATION_COLUMNS = [
    ("id", lambda a: a.id), ("node", lambda a: a.node_id), ("category", lambda a: a.category),
    ("severity", lambda a: a.severity), ("status", lambda a: a.status), ("rationale", lambda a: a.rationale),
]


def register(commands: Commands) -> None:
    sub = commands.add(
        "critique", _critique, "Critique a student trace; store the findings as proposed annotations.", json=True,
        epilog="The web app offers only the models the operator configured ($TRELLIS_MODELS or ./trellis-models.toml, "
               "and [models.NAME] in .streamlit/secrets.toml). Here, in your own shell with your own environment, "
               "--teacher and --fallback may also be any litellm model string.")
    sub.add_argument("trace_id", metavar="STUDENT_ID")
    sub.add_argument("--reference", metavar="TRACE_ID", help="reference trace (default: the teacher trace of the same task class)")
    sub.add_argument("--no-reference", action="store_true", help="critique the trace on its own")
    sub.add_argument("--teacher", metavar="MODEL", default="trellis/structural",
                     help="a configured model's name, or any litellm model string (default: the offline structural critic)")
    sub.add_argument("--fallback", metavar="MODEL", action="append", default=[], help="model to try if the teacher fails")
    sub.add_argument("--timeout", type=float, help="seconds per teacher call (default: the model's own, else 60)")
    sub.add_argument("--retries", type=int, default=2, help="retries per teacher call (default 2)")
    sub.add_argument("--api-base", help="base URL of an OpenAI-compatible server, for a --teacher given as a litellm model string")
    sub.add_argument("--api-key-env", metavar="VAR",
                     help="environment variable holding the key for --api-base (without it, no key is sent there)")

    sub = commands.add("annotations", listing(_annotations, ANNOTATION_COLUMNS, empty="—"), "List a trace's annotations.",
                       json=True)
    sub.add_argument("trace_id", metavar="TRACE_ID")

    actions = commands.group("review", "Accept or reject proposed annotations (recorded under your account).")
    for name in ("accept", "reject"):
        sub = actions.add(name, _review, f"{name.capitalize()} annotations, by id (`trellis annotations TRACE_ID`).")
        sub.set_defaults(decision=name)
        sub.add_argument("annotation_ids", nargs="+", metavar="ANNOTATION_ID")


def _critique(args: argparse.Namespace) -> None:
    # Only this command needs the critique pipeline; every other command starts without it.
    from core.critique.teacher import TeacherSettings, default_reference, run_critique

    settings = TeacherSettings(teacher=args.teacher, timeout=args.timeout, retries=args.retries, fallbacks=args.fallback)
    catalog = _catalog(args)
    with open_store(args) as store:
        reference = None if args.no_reference else args.reference or default_reference(store, store.load_trace(args.trace_id))
        result = run_critique(store, args.trace_id, reference, settings, catalog=catalog,
                              progress=lambda step: print(f"… {step}", file=sys.stderr), actor=acting(store))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"critique {result.run.id} of {args.trace_id} by {args.teacher}"
          f"{f' against {reference}' if reference else ''}: {len(result.annotations)} new proposed, "
          f"{len(result.already)} already there (kept with their review)", file=sys.stderr)
    # Every point of this run, as stored: the new ones, then those already there with their review status.
    print_records([*result.annotations, *result.already], as_json=args.json, columns=ANNOTATION_COLUMNS, empty="—")


def _review(args: argparse.Namespace) -> None:
    from core.critique import review

    decide = review.accept if args.decision == "accept" else review.reject
    with open_store(args) as store:
        ids = list(dict.fromkeys(args.annotation_ids))
        for annotation_id in ids:  # every id is known before any is decided
            store.get_annotation(annotation_id)
        actor = acting(store)
        for annotation_id in ids:
            decided = decide(store, annotation_id, actor)
            print(f"{decided.id}\t{decided.status}\t{decided.category}\t{decided.node_id or 'the whole trace'}")


def _catalog(args: argparse.Namespace) -> dict:
    """The operator's catalog, plus an ad-hoc entry for each litellm model string named here, so the
    command line reaches a model the same way the app does."""
    catalog = load_catalog(db=args.db)
    if args.teacher in catalog and (args.api_base or args.api_key_env):
        raise CatalogError(f"--teacher {args.teacher} is a configured model with its own endpoint; "
                           "--api-base and --api-key-env go with a litellm model string")
    for name in [args.teacher, *args.fallback]:
        if name not in catalog:
            own = {"api_base": args.api_base, "api_key_env": args.api_key_env} if name == args.teacher else {}
            catalog[name] = model_entry(name, {"model": name, **own}, f"--teacher {name}" if own else f"--fallback {name}")
    return catalog


def _annotations(store: Store, args: argparse.Namespace) -> list[Annotation]:
    store.get_trace(args.trace_id)  # an unknown trace is an error, not an empty list
    return store.list_annotations(args.trace_id)
