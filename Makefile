# ekakte — `make demo` runs the embedded archive end to end, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test test-unit lint bench services ocr-tools clean

# The virtual environment is (re)built whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(STAMP)

demo: venv ocr-tools
	bash scripts/demo.sh

# tesseract with its German, English and orientation models (apt-get, as root, when missing).
ocr-tools:
	bash scripts/ensure-ocr.sh

# Outside CI a missing service skips the tests that need it (visibly); under CI=true they fail.
services:
	bash scripts/ensure-ocr.sh || echo "services: no tesseract; OCR tests will be skipped" >&2
	bash scripts/ensure-rgw.sh || echo "services: no RadosGW; its Object Lock tests will be skipped" >&2
	bash scripts/ensure-services.sh
	bash scripts/ensure-oidc.sh || echo "services: no Node.js or oidc-provider; OpenID provider tests will be skipped" >&2
	bash scripts/ensure-browser.sh || echo "services: no Chromium or axe-core; browser tests will be skipped" >&2

# The suite in TEST_WORKERS processes (pytest-xdist; 0 runs it in this one). Each worker has its own
# PostgreSQL database, S3 servers, OpenID provider and browser; much of the suite waits on them, on child
# processes and on killed ones, so two workers on two cores take about half the time of one.
TEST_WORKERS ?= 2
test: venv services
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

test-unit: venv
	$(BIN)/python -m pytest tests/unit

lint: venv
	$(BIN)/ruff check ekakte migrations scripts tests
	$(BIN)/ruff format --check ekakte migrations scripts tests
	$(BIN)/mypy

# BENCH_ONLY=ocr,search,rss runs only those groups; see docs/benchmarks.md.
bench: venv services
	bash scripts/ensure-bench-tools.sh
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache build *.egg-info
