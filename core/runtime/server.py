"""The local model server process: llama.cpp's own HTTP server (through xllamacpp) on loopback.

    python -m core.runtime.server --model FILE --port P --alias NAME [--ctx N] [--threads N]

Started and stopped by core.runtime (``trellis model serve | stop``), never by a page. It serves
OpenAI's API under /v1, which litellm reaches as ``openai/NAME`` with ``api_base`` its URL. It runs
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core.runtime.server", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the GGUF file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--alias", required=True, help="the model name the API answers to")
    parser.add_argument("--ctx", type=int, required=True, help="context window, in tokens")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: steady on a loaded 2-core machine)")
    args = parser.parse_args(argv)

    # Block the stop signals before llama.cpp starts its threads, so only sigwait below receives them.
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = ["127.0.0.1"]  # loopback only
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.use_jinja = True  # the chat template inside the GGUF
    server = xllamacpp.Server(params)
    print(f"trellis: serving {args.alias} on {server.listening_address}", flush=True)
    signal.sigwait(stop)
    print("trellis: stopping", flush=True)
    sys.stdout.flush()
    os._exit(0)  # llama.cpp's threads need no orderly teardown; the OS frees the model


if __name__ == "__main__":
    main()
