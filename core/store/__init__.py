"""The DuckDB store: the one home of Trellis's SQL.

``Store`` is one connection with the queries of each feature on it; each feature's
SQL lives in its own module here (traces, runs, experiments, critique, scaffolds, comments, access, upkeep,
ingest), over the connection, transactions and migrations of ``connection`` and ``schema``::

    with Store("trellis.lake") as store:
        print([t.id for t in store.list_traces()])
"""

from core.store.access import AccessQueries
from core.store.comments import CommentQueries
from core.store.connection import DEFAULT_DB, Place, default_db_path
from core.store.critique import CritiqueQueries
from core.store.experiments import ExperimentQueries
from core.store.ingest import IngestQueries
from core.store.scaffolds import ScaffoldQueries
from core.store.steps import StepQueries
from core.store.upkeep import UpkeepQueries


class Store(ExperimentQueries, StepQueries, IngestQueries, CritiqueQueries, ScaffoldQueries, CommentQueries,
            AccessQueries, UpkeepQueries):
    """A Trellis database: ``Store(":memory:")`` or ``Store("trellis.lake")``."""


__all__ = ["DEFAULT_DB", "Place", "Store", "default_db_path"]
