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
# CPU machines: torch 2.14.1 + torchvision 0.29.1 are the pair whose torchvision imports
# (PyPI's torchvision does not load beside the CPU-only torch 2.13.0 wheel).  GPU users
# can override: make install TORCH_SPEC="torch==2.9.1 torchvision==0.24.1".
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
EXTRAS ?= eval,train,asr,embed,localize,dev
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_output
SYSTEM_TOOLS := ffmpeg ffprobe espeak-ng
APT_PACKAGES := ffmpeg espeak-ng

.PHONY: all install system-deps demo reproduce test test-slow test-all lint bench clean help

all: help

help:
	@echo "make demo      - install (if needed) and run the main job on VideoNet-mini"
	@echo "make reproduce - the full effect: the demo with a longer pretraining (~30 min)"
	@echo "make test      - install (if needed) and run the fast test-suite"
	@echo "make test-slow - the slow tests as well"
	@echo "make bench     - speed/memory benchmarks (bench/)"
	@echo "make lint      - ruff"

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

$(STAMP): setup.cfg pyproject.toml Makefile | $(PY)
	$(MAKE) --no-print-directory system-deps
	$(PIP) install -q $(TORCH_SPEC) 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(PIP) install -q -e ".[$(EXTRAS)]" $(TORCH_SPEC) 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@touch $(STAMP)

install: system-deps $(STAMP)

demo: install
	$(BIN)/videonet demo --out $(DEMO_OUT)

# The full effect: the demo with a longer generic pretraining (3,000 + 8,000 steps; the MC format
# needs it).  Measured from a fresh clone: 28.5 min + install on 2 cores shared with another job for
# half of it - more than the demo's budget (docs/demo_experiments.md).  Add
# --filters single_action,transcript_localized,transcript_localized_title_match for the paper's
# Table 6 in miniature (~2.5 min per extra filter).
REPRODUCE_OUT ?= reproduce_output
reproduce: install
	$(BIN)/videonet demo --out $(REPRODUCE_OUT) --pretrain-steps 3000,8000

test: install
	$(BIN)/pytest -q

test-slow: install
	$(BIN)/pytest -q -m slow

test-all: install
	$(BIN)/pytest -q -m "slow or not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

$(VENV)/.installed-bench: setup.cfg pyproject.toml | $(STAMP)
	$(PIP) install -q -e ".[bench]" $(TORCH_SPEC) 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@touch $@

bench: install $(VENV)/.installed-bench
	$(PY) -m bench

clean:
	rm -rf $(DEMO_OUT) $(REPRODUCE_OUT) .pytest_cache .ruff_cache build dist *.egg-info
