"""When two findings are the same point, and which findings share a pattern.

A critic run again on the same trace proposes most of what it proposed before. ``already_there`` pairs
each new finding with the annotation it repeats, so a re-run keeps a reviewed point once, with its review,
and adds only what is new. ``pattern`` names the template a finding's rationale follows, so a reviewer can
take thousands of findings of one kind in one decision.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence

from core.critique.models import Category, Finding

_QUOTED = re.compile(r"(?<!\w)'.*?'(?!\w)|\"[^\"]*\"")  # an apostrophe inside a word ("Customer's") is no quote
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?%?")
_WORD = re.compile(r"[^\s,;:()\[\]{}'\"]+")
_SPACE = re.compile(r"\s+")
_ID = r"[^\s,():;]*[^\s,():;.]"  # a node id as critics write it: up to a space, a comma or a closing full stop
_NODE_REFERENCE = re.compile(rf"\b(nodes?) {_ID}(?:, {_ID})*")
# What these say is about the node itself, so a node has one of each whatever the wording ("too shallow"). A node can
# miss several sub-problems, drop several results or draw several other remarks: those are told apart by wording.
ONE_PER_NODE = {Category.TOO_SHALLOW, Category.TOO_DEEP, Category.CONTEXT_LOSS, Category.FAILED_STEP,
                Category.WRONG_DECOMPOSITION, Category.REDUNDANT_SUBPROBLEM}
# The structural critic's grouped finding (structural._group): what matters for its pattern is its first finding.
_GROUPED = re.compile(r"^[\d,]+ findings in the subtree of .* e\.g\. at nodes [^.]*\. The first: ", re.DOTALL)


def named_nodes(finding: Finding, node_ids: set[str]) -> frozenset[str]:
    """The other nodes of the trace a finding names in its rationale or fix (its own node left out).

    A word counts when it is a node id that cannot be an ordinary word or number ("s-legal-2.3", "n41"),
    or any node id written right after "node" ("node root"), as critics name nodes."""
    text = f"{finding.rationale} {finding.suggested_fix or ''}"
    words = [w.rstrip(".") for w in _WORD.findall(text)]
    named = {w for w in words if w in node_ids and not w.isalpha() and not w.isdigit()}
    named |= {w for before, w in zip(words, words[1:]) if before.lower() in ("node", "nodes") and w in node_ids}
    return frozenset(named - {finding.node_id})


def _wording(finding: Finding) -> str:
    return _SPACE.sub(" ", re.sub(r"[^\w%]+", " ", finding.rationale.lower())).strip()


def already_there(new: Sequence[Finding], existing: Sequence[Finding], node_ids: set[str]) -> dict[int, int]:
    """{index in ``new``: index in ``existing``} for each new finding that repeats an existing one.

    The same point is on the same node (or both on the whole trace), in the same category, and says the same
    thing. A teacher model re-words what it found, so "the same thing" is tried three ways, in this order, each
    existing finding taken at most once:

    1. the same wording (case, spacing and punctuation aside): every re-run of the deterministic structural
       critic, and a model that repeats itself;
    2. the same other nodes named, at least one: "the aggregation drops node s2" re-worded is still about s2,
       while a point about s3 on the same aggregation is another point;
    3. in a category about the node itself (ONE_PER_NODE), neither names another node, and it is the only one
       left of its node and category on each side: a node gets one "too shallow" point, however it is phrased
       (but two missing sub-problems at one node are two points).

    Anything else is new. When in doubt a point is shown twice rather than hidden: a reviewer rejects a
    duplicate in one click, but never sees a new point that was taken for an old one.
    ``existing`` should be the findings as their critic proposed them, before any reviewer's edit.
    """
    matched: dict[int, int] = {}

    def pair_by(key: Callable[[Finding], Hashable | None], only_one: bool = False) -> None:
        waiting: dict[Hashable, list[int]] = defaultdict(list)
        for j, old in enumerate(existing):
            if j not in matched.values() and (k := key(old)) is not None:
                waiting[k].append(j)
        fresh: dict[Hashable, list[int]] = defaultdict(list)
        for i, finding in enumerate(new):
            if i not in matched and (k := key(finding)) is not None:
                fresh[k].append(i)
        for k, indexes in fresh.items():
            olds = waiting.get(k, [])
            if only_one and (len(indexes) != 1 or len(olds) != 1):
                continue
            matched.update(zip(indexes, olds))  # in order, as many as both sides have

    def place(f: Finding) -> tuple:
        return f.node_id, f.category

    named = {id(f): named_nodes(f, node_ids) for f in [*new, *existing]}
    pair_by(lambda f: (*place(f), _wording(f)))
    pair_by(lambda f: (*place(f), named[id(f)]) if named[id(f)] else None)
    pair_by(lambda f: place(f) if f.category in ONE_PER_NODE and not named[id(f)] else None, only_one=True)
    return matched


def pattern(finding: Finding) -> str:
    """The template a finding's rationale follows, its particulars masked: quoted text as '…', the nodes it
    names as "node …", numbers as N.

    Findings one check raised share it ("'…' returned no output, so nothing of it reaches the answer."),
    so the review desk groups by category and pattern; a structural group of findings takes the pattern
    of the findings it groups."""
    text = _GROUPED.sub("", finding.rationale)
    text = _NUMBER.sub("N", _NODE_REFERENCE.sub(r"\1 …", _QUOTED.sub("'…'", text)))
    return _SPACE.sub(" ", text).strip()
