# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Development over http://127.0.0.1: the session cookie goes without its Secure flag here only.
run: install
	$(BIN)/cpf-ledger demo load --if-empty
	$(BIN)/cpf-ledger demo login
	LEDGER_SESSION_COOKIE_SECURE=false $(BIN)/cpf-ledger serve

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ledger projections api

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
