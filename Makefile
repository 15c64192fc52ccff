# The two commands a newcomer runs: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
PY := .venv/bin/python
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup run test train check bench clean cluster cluster-stop cluster-status

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

# Two replicas (127.0.0.1:5006, :5007) behind nginx on http://127.0.0.1:8080, on the machine's
# PostgreSQL and Redis (scripts/cluster.sh; pid files and logs in var/cluster/).
cluster: setup
	@bash scripts/cluster.sh start

cluster-stop:
	@bash scripts/cluster.sh stop

cluster-status:
	@bash scripts/cluster.sh status

bench: setup
	$(PY) bench/turns.py

clean:
	rm -rf build models var .pytest_cache
