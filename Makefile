# The two commands a newcomer runs: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
PY := .venv/bin/python
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup run test train check bench clean

setup:
	@bash scripts/setup.sh

check: setup
	$(PY) -m bot.cli check

train: setup
	$(PY) -m bot.cli train

run: setup
	$(PY) -m bot.cli train
	$(PY) -m bot.cli serve

test: setup
	$(PY) -m ruff check bot channels tests bench
	$(PY) -m mypy
	$(PY) -m pytest

bench: setup
	$(PY) bench/turns.py

clean:
	rm -rf build models var .pytest_cache
