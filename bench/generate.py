"""Generate large, realistic Trellis traces for benchmarks and scale tests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

SECTIONS = ["Definitions", "Services", "Fees and Payment", "Term and Termination", "Indemnification",
            "Limitation of Liability", "Data Protection", "Confidentiality", "Governing Law", "Warranties"]
VERBS = ["Review", "Cross-reference", "Summarise", "Trace the obligation chain in", "Flag asymmetric risk in",
         "Check defined terms used in", "Compare remedies in", "Extract deadlines from"]
KINDS = ["decompose", "recurse", "recurse", "leaf", "leaf", "leaf", "aggregate", "llm", "tool"]


def _sentence(rng: random.Random, words: int) -> str:
    vocabulary = ("supplier customer shall indemnify losses arising breach notice thirty days termination "
                  "liability cap fees paid preceding months gross negligence wilful misconduct personal data "
                  "processor controller subprocessor audit confidential information exclusive remedy").split()
    return " ".join(rng.choice(vocabulary) for _ in range(words)).capitalize() + "."


def node_records(count: int, fanout: int = 6, seed: int = 7, trace_id: str = "bench") -> Iterator[dict]:
    """`count` nodes of one trace in breadth-first order: a bushy tree with ~fanout children each."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    for i in range(count):
        parent = None if i == 0 else f"{trace_id}-{(i - 1) // fanout}"
        section = SECTIONS[i % len(SECTIONS)]
        t0 = start + timedelta(milliseconds=40 * i)
        yield {
            "id": f"{trace_id}-{i}",
            "parent_id": parent,
            "order": 0 if i == 0 else (i - 1) % fanout,
            "kind": "decompose" if i == 0 else KINDS[i % len(KINDS)],
            "subproblem": f"{rng.choice(VERBS)} section {i % 40 + 1} ({section}) of the services agreement",
            "context": _sentence(rng, 28),
            "context_chars": rng.randint(2_000, 60_000),
            "context_tokens": rng.randint(500, 15_000),
            "output": _sentence(rng, 20),
            "model": "llama-3.1-70b-instruct",
            "tokens_in": rng.randint(300, 9_000),
            "tokens_out": rng.randint(50, 900),
            "cost": round(rng.uniform(0.0001, 0.01), 6),
            "start_time": t0.isoformat().replace("+00:00", "Z"),
            "end_time": (t0 + timedelta(milliseconds=rng.randint(200, 4_000))).isoformat().replace("+00:00", "Z"),
            "status": "ok",
        }


def write_jsonl(path, count: int, trace_id: str = "bench", **kwargs) -> None:
    header = {"format": "trellis", "version": 1,
              "trace": {"id": trace_id, "title": f"Generated trace of {count:,} nodes", "role": "teacher",
                        "task_class": "legal-contract-review", "metadata": {"generated": True}}}
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        for record in node_records(count, trace_id=trace_id, **kwargs):
            f.write(json.dumps(record) + "\n")
