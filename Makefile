# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the project (and its test tools) on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.stimbox-installed

.PHONY: demo test lint bench clean chromium

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# A whole case on a fresh simulated unit; its files (session folder, EDF+,
# CSV, plots, report.html) go into demo-out/.
demo: $(STAMP)
	$(BIN)/stimbox demo --out demo-out

# The validation report's test opens it in Debian's Chromium; installed when
# missing and possible, else that test skips with the reason.
chromium:
	@bash .ci/install-chromium

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build .pytest_cache
