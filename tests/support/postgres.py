"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's `postgresql` package binaries
(`make test` installs them), one cluster in a temp folder on a free loopback port, stopped by its pid.

    with throwaway_postgres(tmp_path) as url:             # postgres://trellis@127.0.0.1:PORT/trellis
        os.environ["TRELLIS_DATA_PATH"] = str(tmp_path / "data")  # where that store keeps its Parquet files
        with Store(url) as store:
            ...
        other = new_database(url, "another")                 # a second, empty store in the same cluster
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.support.browser_support import free_port

USER = "trellis"  # the cluster's superuser, trusted on loopback and the socket: nobody else can reach either
DATABASE = "trellis"
SERVICE_ACCOUNT = "postgres"  # the system user Debian's package creates; the server runs as it when we are root


def postgres_bin() -> Path:
    """The newest installed major version's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql")
    return Path(found[-1]).parent


@contextmanager
def throwaway_postgres(folder: Path) -> Iterator[str]:
    """Start a fresh cluster (its log in ``folder/postgres.log``), create one database and yield its URL in the
    form ``$TRELLIS_STORE`` takes; fast-shut the server down by its pid and delete the cluster afterwards."""
    bin_dir = postgres_bin()
    as_root = os.geteuid() == 0
    # initdb refuses root, so as root the server runs as the service account; that account cannot enter
    # pytest's root-only temp folders, so its cluster lives in a short-named folder of its own under /tmp
    # (short also because a unix socket's path is limited to about 100 bytes).
    cluster = Path(tempfile.mkdtemp(prefix="trellis-pg-"))
    run_as = {"user": SERVICE_ACCOUNT, "group": SERVICE_ACCOUNT, "extra_groups": []} if as_root else {}
    if as_root:
        shutil.chown(cluster, SERVICE_ACCOUNT, SERVICE_ACCOUNT)
    data, port = cluster / "data", free_port()
    log = Path(folder) / "postgres.log"
    try:
        _run([bin_dir / "initdb", "-D", data, "-U", USER, "--auth=trust", "--encoding=UTF8", "--no-sync"],
             cwd=cluster, **run_as)
        with log.open("wb") as output:  # the server keeps its own handle on the file
            server = subprocess.Popen(
                [bin_dir / "postgres", "-D", data, "-p", str(port), "-k", cluster, "-c", "listen_addresses=127.0.0.1",
                 "-c", "fsync=off"],  # a throwaway cluster need not survive a power cut
                stdout=output, stderr=subprocess.STDOUT, cwd=cluster, **run_as)
        try:
            _wait_until_ready(server, bin_dir, port, log)
            yield new_database(f"postgres://{USER}@127.0.0.1:{port}/postgres", DATABASE)
        finally:
            server.send_signal(signal.SIGINT)  # "fast" shutdown: ends open sessions, then exits
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    finally:
        shutil.rmtree(cluster, ignore_errors=True)


def new_database(url: str, name: str) -> str:
    """Create the empty database ``name`` in the cluster ``url`` points into (a fresh store beside another one);
    its URL."""
    parts = urlsplit(url)
    _run([postgres_bin() / "createdb", "-h", parts.hostname, "-p", str(parts.port), "-U", parts.username, name])
    return urlunsplit(parts._replace(path=f"/{name}"))


def _run(command: list, **options) -> None:
    """Run a PostgreSQL program quietly; if it fails, say so with what it printed."""
    done = subprocess.run(command, capture_output=True, text=True, **options)
    if done.returncode:
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")


def _wait_until_ready(server: subprocess.Popen, bin_dir: Path, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while subprocess.run([bin_dir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode != 0:
        if server.poll() is not None or time.monotonic() > deadline:
            why = f"exited with code {server.returncode}" if server.poll() is not None else "did not answer in 60 s"
            server.kill()
            server.wait()
            raise RuntimeError(f"postgres {why}; the end of {log}:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)
