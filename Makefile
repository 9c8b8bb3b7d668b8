# The two commands of the quick start are `make dev` and `make test`; everything else is optional.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install dev test test-fast lint format bench clean

$(STAMP): setup.py pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## make dev: create .venv if missing, install, seed demo data if the landing zone is empty, start dagster dev on 127.0.0.1:3000
dev: install
	$(BIN)/ml-assets dev

## make test: create .venv if missing, install, run the whole suite (end-to-end tests included)
test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	cd bench && ../$(BIN)/python run_all.py

clean:
	rm -rf $(VENV) .ml_assets test-artifacts .pytest_cache
