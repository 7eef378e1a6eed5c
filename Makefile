# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench clean install install-dev lock

install: $(STAMP)

# The service alone (`make run`): the locked versions, no test tools.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(BIN)/python -m pip install -q -r requirements-dev.lock
	touch $(DEV_STAMP)

# The lock files, from pyproject.toml: versions already locked are kept unless UPGRADE=1.
lock:
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	for extra in "" dev; do \
		out=requirements$${extra:+-$$extra}.lock; \
		$(BIN)/uv pip compile -q pyproject.toml $${extra:+--extra $$extra} $(if $(UPGRADE),--upgrade,) \
			--python-version 3.11 --no-header --annotation-style line -o $$out || exit 1; \
		sed -i '1i # Exact versions installed by make, CI and the Dockerfile. Regenerate: make lock [UPGRADE=1]' $$out; \
	done

# Development over http://127.0.0.1: only there does the session cookie go without its Secure flag.
run: install
	$(BIN)/cpf-ledger demo load --if-empty
	LEDGER_PUBLIC_URL=http://$(HOST):$(PORT) $(BIN)/cpf-ledger demo login
	LEDGER_SESSION_COOKIE_SECURE=$(if $(filter 127.0.0.1,$(HOST)),false,true) \
		$(BIN)/cpf-ledger serve --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ledger projections api

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache schemathesis-report
