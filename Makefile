# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench clean install install-dev

install: $(STAMP)

# The service alone (`make run`): no test tools.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(STAMP)

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(DEV_STAMP)

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
