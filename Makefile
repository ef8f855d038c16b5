# dtsen: two commands on a fresh machine with Python 3.11+ (and Java for the Spark tests).
#   make demo   synthesise a regency of ~50,000 people, build a release (ingest, link, rank, quality
#               scorecards, ground-check lists), score it against the truth, draw the PKH list
#   make test   ruff, mypy and pytest (DuckDB always; Spark where Java is found)
# Both install uv if it is missing (into .tools/, from PyPI) and sync the locked environment.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
SHARED := $(wildcard ../shared/refdata/regions.csv)
DEMO_DIR ?= demo
DEMO_PERSONS ?= 50000
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest sync clean bench

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode
	@touch $@

sync: .venv/.synced

demo: .venv/.synced
ifneq ($(SHARED),)
	$(UV) run dtsen synth --persons $(DEMO_PERSONS) --seed 42 --regions ../shared/refdata/regions.csv --scope 32.04 $(DEMO_DIR)
else
	$(UV) run dtsen synth --persons $(DEMO_PERSONS) --seed 42 $(DEMO_DIR)
endif
	$(UV) run dtsen build --project $(DEMO_DIR)
	$(UV) run dtsen evaluate linkage --project $(DEMO_DIR)
	$(UV) run dtsen evaluate welfare --project $(DEMO_DIR)
	$(UV) run dtsen target pkh --project $(DEMO_DIR)
	$(UV) run dtsen demo-accounts --project $(DEMO_DIR)
	@echo "Release: $(DEMO_DIR)/releases/$$(cat $(DEMO_DIR)/releases/CURRENT)"
	@echo "Rapor kualitas data (scorecards): $(DEMO_DIR)/releases/$$(cat $(DEMO_DIR)/releases/CURRENT)/rapor/index.html"
	@echo "Daftar cek lapangan (ground-check lists): $(DEMO_DIR)/releases/$$(cat $(DEMO_DIR)/releases/CURRENT)/cek_lapangan/"

lint: .venv/.synced
	$(UV) run ruff check src tests benchmarks

typecheck: .venv/.synced
	$(UV) run mypy

pytest: .venv/.synced
	$(UV) run pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

test: lint typecheck pytest

bench: .venv/.synced
	$(UV) run python benchmarks/ingest.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
