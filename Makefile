# VideoNet toolkit — set-up and the two everyday commands.
#
#   make demo   install what is missing, then run the main job on VideoNet-mini
#   make test   install what is missing, then run the test-suite
#
# Every step is idempotent: a second run only re-installs when setup.cfg or this file changed.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip
# The lock: every package of the environment, pinned with hashes, for one platform and Python.
# `make install` installs exactly it; `make lock` regenerates it (README: "The lock").
ARCH := $(shell uname -m)
PYDOT := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYVER := $(subst .,,$(PYDOT))
LOCK ?= requirements/lock-linux_$(ARCH)-py$(PYVER).txt
# The torch pair the lock is resolved with.  PyPI has no CPU-only x86-64 torch wheel whose
# torchvision imports (torchvision's wheels need the CUDA build), so this is PyPI's CUDA build,
# which runs on the CPU.  GPU users: make lock TORCH_SPEC="torch==2.9.1 torchvision==0.24.1"
# LOCK=requirements/lock-gpu.txt, then make install LOCK=requirements/lock-gpu.txt.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# Extras in the lock (everything but ray and serve, which pin their own worlds).
EXTRAS ?= eval,train,asr,embed,localize,dev,bench
UV_VERSION ?= 0.13.9
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_output
# chromium: the real browser the web pages' tests drive (through Playwright).
SYSTEM_TOOLS := ffmpeg ffprobe espeak-ng chromium
APT_PACKAGES := ffmpeg espeak-ng chromium
LATEST := .latest

.PHONY: all install system-deps lock test-latest demo reproduce base-checkpoint test test-slow test-all lint bench clean help

all: help

help:
	@echo "make demo      - install (if needed) and run the main job on VideoNet-mini"
	@echo "make reproduce - the demo with its base model rebuilt from random weights (~35 min)"
	@echo "make base-checkpoint BASE_VERSION=N - rebuild the base and publish it as version N"
	@echo "make test      - install (if needed) and run the fast test-suite"
	@echo "make test-slow - the slow tests as well"
	@echo "make bench     - speed/memory benchmarks (bench/)"
	@echo "make lint      - ruff"
	@echo "make lock      - regenerate the lock ($(LOCK)) from setup.cfg"
	@echo "make test-latest - the fast tests in a throw-away env of the newest releases setup.cfg allows"

system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo ">> installing system packages ($(APT_PACKAGES)); missing:$$missing"; \
	  if ! command -v apt-get >/dev/null 2>&1; then echo "error: apt-get not found; install $(APT_PACKAGES) with your package manager" >&2; exit 1; fi; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)

$(LOCK):
	@echo "error: no lock for this platform and Python ($(LOCK))." >&2
	@echo "  make lock creates one (GPU or aarch64: set TORCH_SPEC); test it with make test, then commit it." >&2
	@exit 1

# One line per step; a refused pin names its package (tools/lockfile.py).
$(STAMP): $(LOCK) setup.cfg pyproject.toml Makefile tools/lockfile.py | $(PY)
	@echo ">> [1/3] system packages ($(APT_PACKAGES))"
	@$(MAKE) --no-print-directory system-deps
	@echo ">> [2/3] $$(grep -c '==' $(LOCK)) locked packages from $(LOCK) into $(VENV)/ (first time: ~4 min, ~7.6 GB)"
	@$(PY) tools/lockfile.py sync $(LOCK)
	@echo ">> [3/3] the project itself (editable, no dependencies: they all come from the lock)"
	@$(PIP) install -q --no-deps --no-build-isolation -e . 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@$(PY) tools/lockfile.py check $(LOCK)
	@echo ">> installed: $$(du -sh $(VENV) | cut -f1) in $(VENV)/"
	@touch $(STAMP)

# After the stamp: put back anything changed by hand since (silent, ~1 s, when nothing was).
install: system-deps $(STAMP)
	@$(PY) tools/lockfile.py sync --quiet $(LOCK)

$(UV):
	@echo ">> uv $(UV_VERSION) (the resolver behind make lock / make test-latest) into $(TOOLS)/"
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install -q "uv==$(UV_VERSION)" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Resolve setup.cfg's ranges (+ the torch pair) for this platform and Python: $(1) = output file,
# $(2) = extra uv flags.  uv reads no pip.conf, so it sees PyPI only: what a user's machine sees.
define resolve
	@mkdir -p $(dir $(1))
	@printf '%s\n' $(TORCH_SPEC) > $(1).torch.in
	@$(UV) pip compile -q setup.cfg $(1).torch.in $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
	  --generate-hashes --python-version $(PYDOT) \
	  --python-platform $(ARCH)-manylinux_2_28 --custom-compile-command "make lock" $(2) -o $(1)
	@rm -f $(1).torch.in
endef
comma := ,

# When to run it: after changing a dependency in setup.cfg (existing pins are kept where still
# allowed), to take new releases (LOCK_FLAGS=--upgrade, or --upgrade-package NAME), or for another
# torch pair.  Then make test (and make demo) from a fresh clone, and commit the lock.
LOCK_FLAGS ?=
lock: $(UV)
	@echo ">> resolving setup.cfg [$(EXTRAS)] + $(TORCH_SPEC) for linux_$(ARCH), Python $(PYDOT)"
	$(call resolve,$(LOCK),$(LOCK_FLAGS))
	@echo ">> wrote $(LOCK): $$(grep -c '==' $(LOCK)) packages; now run make test and commit it"

# Drift check (does not gate CI): the newest releases setup.cfg allows, in a throw-away env.
test-latest: $(UV)
	@rm -rf $(LATEST) && mkdir -p $(LATEST)
	@echo ">> [1/3] resolving the newest releases setup.cfg allows"
	$(call resolve,$(LATEST)/lock.txt,--upgrade)
	@$(PYTHON) tools/lockfile.py diff $(LOCK) $(LATEST)/lock.txt
	@echo ">> [2/3] installing them into $(LATEST)/venv (throw-away)"
	@$(PYTHON) -m venv $(LATEST)/venv
	@$(LATEST)/venv/bin/python tools/lockfile.py sync $(LATEST)/lock.txt
	@$(LATEST)/venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | { grep -v "is ignored" || true; }
	@echo ">> [3/3] the fast tests on the newest releases"
	@VIDEONET_LOCK=$(LATEST)/lock.txt $(LATEST)/venv/bin/python -m pytest -q -p no:cacheprovider; status=$$?; \
	  echo ">> test-latest: tests exit $$status on the newest releases; what moved against $(LOCK):"; \
	  $(PYTHON) tools/lockfile.py diff $(LOCK) $(LATEST)/lock.txt; exit $$status

demo: install
	$(BIN)/videonet demo --out $(DEMO_OUT)

# The demo from nothing: its base model (the shipped checkpoint videonet-mini-base-v1, which make
# demo installs like a download) rebuilt from random weights by the generic pretraining, checked to
# reach the shipped checkpoint's held-out skill, then fine-tuned and evaluated as in make demo
# (docs/demo_experiments.md).  Add --filters single_action,transcript_localized,
# transcript_localized_title_match for the paper's Table 6 in miniature.
REPRODUCE_OUT ?= reproduce_output
reproduce: install
	$(BIN)/videonet demo --out $(REPRODUCE_OUT) --base pretrain

# A new version of the shipped base checkpoint (after changing the model or the pretraining):
# rebuild it, then copy it with its provenance into videonet_datasets/demo/checkpoints/.
BASE_VERSION ?=
base-checkpoint: install
	@test -n "$(BASE_VERSION)" || { echo "make base-checkpoint BASE_VERSION=N (a new version number)"; exit 2; }
	$(BIN)/videonet demo --out $(REPRODUCE_OUT) --base pretrain --until base
	$(BIN)/videonet demo-base publish $(REPRODUCE_OUT)/models/base --version $(BASE_VERSION)

test: install
	$(BIN)/pytest -q

test-slow: install
	$(BIN)/pytest -q -m slow

test-all: install
	$(BIN)/pytest -q -m "slow or not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(PY) -m bench

clean:
	rm -rf $(DEMO_OUT) $(REPRODUCE_OUT) $(LATEST) .pytest_cache .ruff_cache build dist *.egg-info
