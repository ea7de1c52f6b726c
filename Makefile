# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.installed-bench

.PHONY: demo test test-fast install serve bench screenshots clean

# Parallel test workers (pytest-xdist): one per core by default; WORKERS=0 runs in one process.
WORKERS ?= auto
# One xdist group per browser module (tests/conftest.py): loadgroup keeps each on one worker.
PYTEST_PARALLEL := -n $(WORKERS) --dist loadgroup
# Some environments set PYTHONDONTWRITEBYTECODE. Under pytest that means every run rewrites
# the asserts of every test module and plugin again, and every server process the tests start
# compiles src/ again: tens of seconds per worker. The caches are in __pycache__ (ignored).
unexport PYTHONDONTWRITEBYTECODE

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(INSTALLED)

install: $(INSTALLED)

# The benchmarks also need the bench extra (pysiaalarm, the DC-09 reference); test and demo do not.
$(BENCH_INSTALLED): $(INSTALLED) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(BENCH_INSTALLED)

## demo: install, migrate, seed demo data, serve on http://127.0.0.1:8080 with simulated alarms
demo: $(INSTALLED)
	@bash scripts/ensure-fhir-server.sh || echo "Demo EPJ: the FHIR server could not be installed (Node from npm); the demo runs without a patient record."
	@bash scripts/ensure-voice.sh || echo "Demo voice: the gateway and baresip could not be installed (Debian packages); the demo runs without voice."
	@bash scripts/ensure-camera.sh || echo "Demo camera: GStreamer could not be installed (Debian packages); the demo runs without a camera picture."
	@bash scripts/ensure-message-peers.sh || echo "Demo messages: the local SMS centre could not be installed (Node from npm); next-of-kin alarms go to the centre."
	$(BIN)/respons migrate
	$(BIN)/respons demo
	$(BIN)/respons serve --simulate --demo-epj --demo-voice --demo-messages

## test: install and run the whole suite (SQLite always; PostgreSQL when reachable), in parallel
test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

## test-fast: unit tests and the SQLite half of the integration tests, in parallel (docs/testing.md)
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not postgres and not slow and not browser" $(PYTEST_ARGS)

serve: $(INSTALLED)
	$(BIN)/respons serve

bench: $(BENCH_INSTALLED)
	$(BIN)/python bench/intake_http.py --db both
	$(BIN)/python bench/console_queue.py --sizes 20,2000
	$(BIN)/python bench/dc09_receiver.py --db both
	$(BIN)/python bench/reports.py --db both
	$(BIN)/python bench/invoices.py --db both
	$(BIN)/python bench/live_latency.py --alarms 200
	$(BIN)/python bench/voice_calls.py --devices 200 --calls 200
	$(BIN)/python bench/round_list.py --sizes 10,300
	$(BIN)/python bench/messages.py --count 500
	$(BIN)/python bench/camera_streams.py --counts 1,4,8

## screenshots: regenerate docs/screenshots/*.png (1920x1080, and the queue at 1366x768 and 1440x900) in real Chromium
screenshots: $(INSTALLED)
	$(BIN)/python scripts/screenshots.py
	RESPONS_UPDATE_SCREENSHOTS=1 RESPONS_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/browser/test_density.py

clean:
	rm -rf $(VENV) var .pytest_cache
