"""Aligning a teacher's and a student's trees: matched sub-problems, ones only on one side, depth shifts, scale.

How fast alignment runs is measured in bench/bench_align.py, not here.
"""

import sys

from core.align import MIN_SCORE, Alignment, SharedRow, align, shared_rows, similarity, tokens
from core.models import Node
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from generate import node_records  # noqa: E402


def tree(*rows) -> list[Node]:
    """Nodes from (id, parent id, kind, sub-problem) rows, siblings in the order given."""
    order: dict[str | None, int] = {}
    nodes = []
    for node_id, parent_id, kind, subproblem in rows:
        order[parent_id] = order.get(parent_id, -1) + 1
        nodes.append(Node(id=node_id, parent_id=parent_id, order=order[parent_id], kind=kind, subproblem=subproblem))
    return nodes


TEACHER = tree(
    ("t", None, "decompose", "Assess the risk in the services agreement"),
    ("t1", "t", "recurse", "Review the termination clause"),
    ("t2", "t", "recurse", "Review the liability cap"),
    ("t3", "t", "recurse", "Check the data protection terms"),
    ("t4", "t", "aggregate", "Combine the findings"),
)


def test_similarity_counts_shared_words_and_forgives_a_shorter_statement():
    assert similarity(tokens("Review the liability cap"), tokens("review THE liability cap!")) == 1.0
    short, detailed = tokens("Review Section 10"), tokens("Review Section 10 with the definitions it relies on")
    assert similarity(short, detailed) > 0.5 > similarity(tokens("Review"), detailed)
    assert similarity(tokens("a b"), tokens("c d")) == 0.0
    assert similarity(tokens(None), tokens("")) == 1.0


def test_identical_trees_match_node_for_node():
    result = align(TEACHER, TEACHER)
    assert [(m.left, m.right) for m in result.matches] == [(n.id, n.id) for n in TEACHER]
    assert result.left_only == result.right_only == []


def test_siblings_match_by_text_even_when_reordered_and_reworded():
    student = tree(
        ("s", None, "decompose", "Assess the risk in the services agreement"),
        ("s1", "s", "recurse", "Look at the liability cap"),
        ("s2", "s", "recurse", "Review the termination clause"),
        ("s3", "s", "aggregate", "Combine the findings"),
        ("s4", "s", "leaf", "Guess the contract value"),
    )
    result = align(TEACHER, student)
    assert result.left_to_right == {"t": "s", "t1": "s2", "t2": "s1", "t4": "s3"}
    assert result.left_only == ["t3"]  # the student never checked data protection
    assert result.right_only == ["s4"]


def test_shared_rows_put_each_pair_in_one_row_and_each_lone_node_where_it_sits():
    student = tree(
        ("s", None, "decompose", "Assess the risk in the services agreement"),
        ("s1", "s", "recurse", "Review the termination clause"),
        ("s5", "s1", "leaf", "Count the notice days"),
        ("s2", "s", "recurse", "Review the liability cap"),
        ("s4", "s", "aggregate", "Combine the findings"),
    )
    result = align(TEACHER, student)
    rows = shared_rows(result, [n.id for n in TEACHER], [n.id for n in student])
    assert rows == [
        SharedRow("t", "s"),
        SharedRow("t1", "s1"),
        SharedRow(None, "s5"),  # only in the student, under the termination clause it followed
        SharedRow("t2", "s2"),
        SharedRow("t3", None),  # only in the teacher
        SharedRow("t4", "s4"),
    ]


def test_a_sub_problem_solved_one_level_deeper_is_matched_across_levels():
    student = tree(
        ("s", None, "decompose", "Assess the risk in the services agreement"),
        ("s1", "s", "decompose", "Review every clause"),
        ("s11", "s1", "leaf", "Review the termination clause"),
        ("s12", "s1", "leaf", "Review the liability cap"),
        ("s2", "s", "aggregate", "Combine the findings"),
    )
    result = align(TEACHER, student)
    assert result.left_to_right["t1"] == "s11"
    assert result.left_to_right["t2"] == "s12"
    assert result.left_to_right["t4"] == "s2"
    assert "s1" in result.right_only


def test_unrelated_children_stay_unmatched():
    student = tree(("s", None, "decompose", "Assess the risk"), ("s1", "s", "leaf", "Write a haiku about autumn"))
    result = align(TEACHER, student)
    assert result.right_only == ["s1"]
    assert len(result.left_only) == 4


def generated(count: int, seed: int, fanout: int, trace_id: str) -> list[Node]:
    return [Node.model_validate(r) for r in node_records(count, fanout=fanout, seed=seed, trace_id=trace_id)]


def assert_every_node_once(result: Alignment, left: list[Node], right: list[Node]) -> None:
    """Each node is matched to one node of the other tree or listed as only on its side, never both, in tree order."""
    lefts, rights = [m.left for m in result.matches], [m.right for m in result.matches]
    assert sorted(lefts + result.left_only) == sorted(n.id for n in left)
    assert sorted(rights + result.right_only) == sorted(n.id for n in right)
    assert len(set(rights)) == len(rights)  # one to one
    assert result.left_to_right == dict(zip(lefts, rights)) and result.right_to_left == dict(zip(rights, lefts))
    assert result.matches[0].left == left[0].id and result.matches[0].right == right[0].id  # the roots correspond


def test_ten_thousand_by_ten_thousand_nodes_align_every_node_once():
    teacher, student = generated(10_000, 7, 6, "t"), generated(10_000, 8, 5, "s")
    result = align(teacher, student)
    assert len(result.matches) + len(result.left_only) == 10_000
    assert_every_node_once(result, teacher, student)
    assert all(m.score >= MIN_SCORE for m in result.matches[1:])  # only the roots are matched whatever their score
    assert len(result.matches) > 1_000  # the two trees share their vocabulary: 3,375 match today


def test_a_deep_chain_against_an_unrelated_chain_matches_only_the_roots():
    left = [Node(id=f"a{i}", parent_id=f"a{i - 1}" if i else None, subproblem=f"step {i}") for i in range(10_000)]
    right = [Node(id=f"b{i}", parent_id=f"b{i - 1}" if i else None, subproblem=f"other {i}") for i in range(10_000)]
    result = align(left, right)  # 10,000 levels deep: no recursion
    assert_every_node_once(result, left, right)
    assert [(m.left, m.right) for m in result.matches] == [("a0", "b0")]
    assert result.left_only == [n.id for n in left[1:]] and result.right_only == [n.id for n in right[1:]]
