# `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= trellis.duckdb
PORT   ?= 8501
# Loopback only unless the operator says otherwise (`make run ADDRESS=0.0.0.0`, best with login configured).
ADDRESS ?= 127.0.0.1
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test setup lock browser bench schema clean

run: $(DB)
	$(BIN)/streamlit run app.py --server.address $(ADDRESS) --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false -- --db $(DB)

test: setup browser
	$(BIN)/python -m pytest -q

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# requirements.lock is compiled from pyproject.toml (its dependencies, the test and local extras), never
# edited by hand: change pyproject.toml, run `make lock`, commit both. Versions already in the lock
# are kept unless pyproject.toml asks for others.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check pip-tools==7.6.2
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra test --extra local --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

# A new database is loaded with the sample library; an existing one is left alone.
$(DB): | setup
	$(BIN)/trellis import sample_traces --db $(DB)

# Browser tests drive Debian's Chromium (Playwright cannot download its own here);
# graphviz's `dot` checks that hostile labels survive a real layout.
browser:
	@command -v chromium >/dev/null && command -v dot >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium graphviz fonts-dejavu-core; }

bench: setup
	$(BIN)/python bench/run_all.py

schema: setup
	$(BIN)/trellis schema --out docs/trace.schema.json

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
