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

.PHONY: help venv assets native native-test test test-slow test-arm fuzz fuzz-smoke clang bench demo clean

help:
	@echo "make demo       set up, build a real bundle and classify real text with it"
	@echo "make test       set up and run every fast test (C, sanitizers, Python, smokes)"
	@echo "make test-slow  full parity corpora and long property runs"
	@echo "make test-arm   aarch64 emulation suite (qemu)"
	@echo "make fuzz       libFuzzer run of the C tokenizer"
	@echo "make bench      benchmarks under bench/ (prints ratios)"

venv: $(VENV)/.stamp

$(VENV)/.stamp: setup.py pyproject.toml requirements/dev.txt $(NATIVE_SRC)
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (python3.10 on PATH or pyenv 3.10.x)"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23" setuptools wheel
	$(PY) -m pip install -q -r requirements/dev.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import edgetext._native" 
	touch $@

assets: $(ASSETS)/.stamp

$(ASSETS)/.stamp: scripts/fetch_assets.py | venv
	$(PY) scripts/fetch_assets.py --dest $(ASSETS)
	touch $@

native:
	$(MAKE) -C native

native-test:
	$(MAKE) -C native test
	$(MAKE) -C native test-sanitize

# The fast suite plus a short smoke of every slow one (fuzzing, benchmarks; the ARM smoke is a pytest file).
test: venv assets native-test fuzz-smoke
	$(PY) -m pytest -q -m "not slow and not arm" tests
	$(PY) bench/tokenizer.py --quick
	$(PY) bench/classifier.py --n 16 --repeat 1

test-slow: venv assets
	$(PY) -m pytest -q -m slow tests

# ARM emulation (scripts/arm/, samples/README.md): aarch64 C + Python and armv7 C under qemu-user.
.PHONY: arm-sysroot test-arm-smoke
arm-sysroot: venv
	bash scripts/arm/setup.sh all

test-arm: venv assets arm-sysroot
	$(PY) -m pytest -q -m arm tests/arm

test-arm-smoke: venv assets
	$(PY) -m pytest -q tests/test_arm_smoke.py

demo: venv assets
	$(PY) samples/demo.py

clang:
	@command -v clang >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq clang >/dev/null; }

fuzz: clang
	$(MAKE) -C native fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-600}

fuzz-smoke: clang
	$(MAKE) -C native fuzz FUZZ_SECONDS=20

bench: venv assets
	$(PY) bench/tokenizer.py
	$(PY) bench/classifier.py

clean:
	rm -rf build *.egg-info sdk/edgetext/_native*.so
	$(MAKE) -C native clean
