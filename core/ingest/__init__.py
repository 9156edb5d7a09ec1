"""Live ingest: `trellis collect` receives OpenTelemetry spans over OTLP/HTTP and stores them as they come.

- core.ingest.wire: request bodies (protobuf or JSON, gzipped or not) read into spans, answers, and a live
  trace rebuilt from its stored spans with the OTLP importer (core.importers.otlp)
- core.ingest.collector: the HTTP server, the bounded queue and the one writer that commits in batches

The SQL is in core.store.ingest. The defaults live here, so that the command line offers them without
importing the server (and protobuf) before `trellis collect` runs.
"""

from core.models import MB

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318  # OTLP/HTTP's
DEFAULT_QUEUE = 32  # requests waiting for the writer
DEFAULT_MAX_BYTES = 32 * MB  # largest request body, unpacked
