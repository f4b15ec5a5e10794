# ercase: `make run` starts the embedded stack, `make test` runs the whole suite,
# `make test-fast` the pure and time-skipping tests (tests/README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LOCKS := requirements.lock requirements-test.lock

.PHONY: run test test-fast lint bandit security postgres browser bench chaos clean lock

# Exactly what the lock files name, each file checked against its hash (pip itself included),
# then ercase on top without resolving anything again. tests/unit/test_lock.py checks that the
# locks agree with pyproject.toml and that this environment is what they say.
$(INSTALLED): pyproject.toml $(LOCKS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements-test.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(INSTALLED)

# Regenerate the locks from pyproject.toml, keeping every pin that still satisfies it; the test
# lock is constrained by the application's, so both name the same versions. To move a package:
# `make lock LOCK_ARGS='--upgrade-package holidays'` (then run the replay test, tests/replay/test_replay.py).
# The locks are resolved for CPython 3.11 on Linux, the Dockerfile's Python.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND='make lock' $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
# pip-tools is one of the test extras, so the virtualenv has it.
lock: $(INSTALLED)
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra test --constraint requirements.lock \
	  --output-file requirements-test.lock pyproject.toml

run: $(INSTALLED)
	$(BIN)/ercase up

# The database tests run on SQLite and on the PostgreSQL server at 127.0.0.1:5432.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n 1) main start
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The web tests drive Debian's chromium through Playwright (installed with the test extras);
# never `playwright install`, which downloads a browser build that cannot work offline.
browser: $(INSTALLED)
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }

# bandit over the code; pip-audit of the installed dependencies against PyPI's advisories.
bandit: $(INSTALLED)
	$(BIN)/bandit -q -c pyproject.toml -r .

# pip-audit needs PyPI's vulnerability data, which this sandbox's package mirror does not
# serve (every package comes back "not found"): it is run by hand, not by `make test`.
security: bandit
	$(BIN)/pip-audit --progress-spinner off --skip-editable

test: $(INSTALLED) postgres browser lint bandit
	$(BIN)/pytest -q

# The edit-test loop: tests/unit and tests/workflows without the slow sets or the dev server
# (no PostgreSQL, no browser), in under a minute.
test-fast: $(INSTALLED)
	$(BIN)/pytest -q -m "not slow and not dev_server" tests/unit tests/workflows

bench: $(INSTALLED)
	$(BIN)/python -m bench.step_latency

# 500 cases while the worker is SIGKILLed every 20 s, the Temporal dev server and a private
# PostgreSQL restart and SMTP stops for a minute (needs root: PostgreSQL runs as `postgres`).
chaos: $(INSTALLED)
	$(BIN)/python -m bench.chaos

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
