"""Nodes as one Arrow table: the columns importers and the store move nodes in, in bulk.

The columns are the nodes table's, in the order Node declares its fields.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.models import Node

NODE_ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("parent_id", pa.string()),
        ("order", pa.int64()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("subproblem", pa.string()),
        ("context", pa.string()),
        ("context_chars", pa.int64()),
        ("context_tokens", pa.int64()),
        ("output", pa.string()),
        ("aggregation", pa.string()),
        ("model", pa.string()),
        ("tokens_in", pa.int64()),
        ("tokens_out", pa.int64()),
        ("cost", pa.float64()),
        ("start_time", pa.timestamp("us", tz="UTC")),
        ("end_time", pa.timestamp("us", tz="UTC")),
        ("status", pa.string()),
        ("error", pa.string()),
        ("metadata", pa.string()),  # JSON text
    ]
)
assert NODE_ARROW_SCHEMA.names == list(Node.model_fields), "NODE_ARROW_SCHEMA drifted from Node"


def nodes_to_arrow(nodes: list[Node]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in NODE_ARROW_SCHEMA.names}
    for node in nodes:
        for name, values in columns.items():
            values.append(getattr(node, name))
    columns["metadata"] = [json.dumps(m) if m else None for m in columns["metadata"]]
    return pa.table(columns, schema=NODE_ARROW_SCHEMA)


def largest_node(nodes: pa.Table) -> tuple[int, int]:
    """(row, size in bytes) of the node holding the most text: its string fields and metadata, as UTF-8."""
    sizes = sum(
        pc.binary_length(nodes.column(f.name)).fill_null(0).to_numpy().astype(np.int64)
        for f in NODE_ARROW_SCHEMA if f.type == pa.string()
    )
    row = int(np.argmax(sizes))
    return row, int(sizes[row])

