"""The database's schema, as an append-only list of migrations.

Never edit or reorder a step that has shipped; add a new one. A database records
the steps it has applied, so opening an old file brings it up to date.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb


def _m001_traces_and_nodes(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """
        CREATE TABLE traces (
            id VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            task VARCHAR,
            task_class VARCHAR,
            role VARCHAR NOT NULL,
            agent VARCHAR,
            model_size VARCHAR,
            source_format VARCHAR NOT NULL,
            created_at TIMESTAMPTZ,
            metadata JSON,
            source_file VARCHAR,
            imported_at TIMESTAMPTZ NOT NULL,
            node_count BIGINT NOT NULL,
            depth INTEGER NOT NULL,
            tokens BIGINT NOT NULL,
            cost DOUBLE,
            error_count BIGINT NOT NULL
        )
        """
    )
    cur.execute(
        """
        CREATE TABLE nodes (
            trace_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            parent_id VARCHAR,
            position BIGINT NOT NULL,
            depth INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            name VARCHAR,
            subproblem VARCHAR,
            context VARCHAR,
            context_chars BIGINT,
            context_tokens BIGINT,
            output VARCHAR,
            aggregation VARCHAR,
            model VARCHAR,
            tokens_in BIGINT,
            tokens_out BIGINT,
            cost DOUBLE,
            start_time TIMESTAMPTZ,
            end_time TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            error VARCHAR,
            metadata JSON
        )
        """
    )


def _m002_critique(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """
        CREATE TABLE critique_runs (
            id VARCHAR NOT NULL,
            trace_id VARCHAR NOT NULL,
            reference_id VARCHAR,
            teacher VARCHAR NOT NULL,
            settings JSON,
            started_at TIMESTAMPTZ NOT NULL,
            duration_s DOUBLE NOT NULL,
            tokens_in BIGINT,
            tokens_out BIGINT,
            cost DOUBLE,
            finding_count INTEGER NOT NULL
        )
        """
    )
    cur.execute(
        """
        CREATE TABLE annotations (
            id VARCHAR NOT NULL,
            trace_id VARCHAR NOT NULL,
            node_id VARCHAR,
            run_id VARCHAR,
            category VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            rationale VARCHAR NOT NULL,
            suggested_fix VARCHAR,
            suggested_subproblems JSON,
            author VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            reviewer VARCHAR,
            reviewed_at TIMESTAMPTZ,
            created_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    cur.execute(
        """
        CREATE TABLE annotation_events (
            annotation_id VARCHAR NOT NULL,
            happened_at TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            changes JSON
        )
        """
    )


def _m003_scaffolds(cur: duckdb.DuckDBPyConnection) -> None:
    # Versions are never updated: a save inserts a version, a review inserts an event,
    # and a version's status is the status its latest event gave it.
    cur.execute(
        """
        CREATE TABLE scaffold_versions (
            scaffold_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            title VARCHAR NOT NULL,
            task_class VARCHAR,
            content JSON NOT NULL,
            search_text VARCHAR NOT NULL,
            based_on INTEGER,
            author VARCHAR NOT NULL,
            comment VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (scaffold_id, version)
        )
        """
    )
    cur.execute("CREATE SEQUENCE scaffold_event_seq")
    cur.execute(
        """
        CREATE TABLE scaffold_events (
            seq BIGINT NOT NULL DEFAULT nextval('scaffold_event_seq'),
            scaffold_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            comment VARCHAR NOT NULL,
            happened_at TIMESTAMPTZ NOT NULL
        )
        """
    )


def _m004_trace_content_hash(cur: duckdb.DuckDBPyConnection) -> None:
    # sha256 of the file a trace was imported from, so importing the same bytes again is
    # recognised before the file is parsed (a rerun after a crash that followed the commit).
    cur.execute("ALTER TABLE traces ADD COLUMN content_hash VARCHAR")


def _m005_users_and_audit(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        """
        CREATE TABLE users (
            email VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            granted_by VARCHAR NOT NULL,
            granted_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    cur.execute("CREATE SEQUENCE audit_seq")
    cur.execute(
        """
        CREATE TABLE audit_log (
            seq BIGINT NOT NULL DEFAULT nextval('audit_seq'),
            happened_at TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            details JSON
        )
        """
    )


def _m006_runs(cur: duckdb.DuckDBPyConnection) -> None:
    # One row per student run; its trace (same id) holds the calls. Never updated: a rerun is a new row.
    cur.execute(
        """
        CREATE TABLE runs (
            id VARCHAR PRIMARY KEY,
            batch_id VARCHAR NOT NULL,
            task_id VARCHAR NOT NULL,
            task_file VARCHAR NOT NULL,
            task_class VARCHAR NOT NULL,
            student VARCHAR NOT NULL,
            runner VARCHAR NOT NULL,
            scaffold_choice VARCHAR NOT NULL,
            scaffold_id VARCHAR,
            scaffold_version INTEGER,
            retrieval JSON,
            seed BIGINT NOT NULL,
            repeat INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            error VARCHAR,
            fell_back BOOLEAN NOT NULL,
            fallback_reason VARCHAR,
            adherence DOUBLE,
            answer VARCHAR NOT NULL,
            score DOUBLE,
            score_explanation VARCHAR NOT NULL,
            calls INTEGER NOT NULL,
            tokens_in BIGINT NOT NULL,
            tokens_out BIGINT NOT NULL,
            cost DOUBLE NOT NULL,
            seconds DOUBLE NOT NULL,
            started_at TIMESTAMPTZ NOT NULL
        )
        """
    )


def _m007_experiments(cur: duckdb.DuckDBPyConnection) -> None:
    # An experiment runs its arms on the same tasks; its runs are rows of runs, tagged with it and their arm.
    cur.execute(
        """
        CREATE TABLE experiments (
            id VARCHAR PRIMARY KEY,
            settings JSON NOT NULL,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )
        """
    )
    cur.execute("ALTER TABLE runs ADD COLUMN experiment_id VARCHAR")
    cur.execute("ALTER TABLE runs ADD COLUMN arm VARCHAR")


def _m008_trace_tags(cur: duckdb.DuckDBPyConnection) -> None:
    # A person's labels on a trace ("baseline", "bad-run"); they go with the trace when it is deleted.
    cur.execute(
        """
        CREATE TABLE trace_tags (
            trace_id VARCHAR NOT NULL,
            tag VARCHAR NOT NULL,
            tagged_by VARCHAR NOT NULL,
            tagged_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (trace_id, tag)
        )
        """
    )


def _m009_node_comments(cur: duckdb.DuckDBPyConnection) -> None:
    # A reviewer's free-form note on one node of a trace; they go with the trace when it is deleted.
    cur.execute(
        """
        CREATE TABLE node_comments (
            id VARCHAR PRIMARY KEY,
            trace_id VARCHAR NOT NULL,
            node_id VARCHAR NOT NULL,
            body VARCHAR NOT NULL,
            author VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )
        """
    )


def _m010_annotation_as_proposed(cur: duckdb.DuckDBPyConnection) -> None:
    # The finding as its critic proposed it, before any reviewer's edit: a re-run is matched against it
    # (core.critique.matching), so an edited point is not proposed again. NULL (older rows): as it reads now.
    cur.execute("ALTER TABLE annotations ADD COLUMN proposed JSON")


def _m011_trace_last_span(cur: duckdb.DuckDBPyConnection) -> None:
    # When `trellis collect` last added a span to the trace (NULL: imported whole): the Library marks a trace
    # that received one lately as live.
    cur.execute("ALTER TABLE traces ADD COLUMN last_span_at TIMESTAMPTZ")


def _m012_received_spans(cur: duckdb.DuckDBPyConnection) -> None:
    # Every span `trellis collect` received, as it came (OTLP/JSON text): a live trace is rebuilt from all of
    # its spans each time more arrive, and a span already here is not stored again (core/store/ingest.py).
    cur.execute(
        """
        CREATE TABLE received_spans (
            seq BIGINT NOT NULL,
            trace_id VARCHAR NOT NULL,
            span_id VARCHAR NOT NULL,
            received_at TIMESTAMPTZ NOT NULL,
            span VARCHAR NOT NULL,
            resource VARCHAR NOT NULL,
            PRIMARY KEY (trace_id, span_id)
        )
        """
    )


MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    _m001_traces_and_nodes,
    _m002_critique,
    _m003_scaffolds,
    _m004_trace_content_hash,
    _m005_users_and_audit,
    _m006_runs,
    _m007_experiments,
    _m008_trace_tags,
    _m009_node_comments,
    _m010_annotation_as_proposed,
    _m011_trace_last_span,
    _m012_received_spans,
]

