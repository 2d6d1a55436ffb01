# poisondetect: `make` lists the targets. Every target creates .venv on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PROFILE ?= quick
DATASET ?= synth
ONLY ?=
JOBS ?= 2
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# zennit 1.0.0 needs Python >= 3.11.11: use 3.12, from PATH or from pyenv.
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
	if "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then echo "$$p"; break; fi; done)

.PHONY: help venv figures thesis test lab bench bench-thesis data clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=smoke|quick|full (default quick), DATASET=synth|gtsrb (default synth), ONLY=03 (one chapter),"
	@echo "             JOBS=2 (chapters side by side; JOBS=1 runs them one by one with their progress bars live)"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON312)" || { echo "error: Python 3.12 not found (zennit 1.0.0 needs >= 3.11.11). Install python3.12 or set PYTHON312=/path/to/python3.12"; exit 1; }
	@echo "creating $(VENV) with $(PYTHON312) (first use: about 3 minutes)"
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the pinned environment

figures: $(STAMP) ## run every chapter notebook with papermill and regenerate figures/ (PROFILE, DATASET, ONLY, JOBS)
	$(PY) -m poisondetect.pipeline --profile $(PROFILE) --dataset $(DATASET) --jobs $(JOBS) $(if $(ONLY),--only $(ONLY))

thesis: ## build thesis/main.pdf with latexmk from the generated figures
	@command -v latexmk >/dev/null || { echo "error: latexmk not found. Install TeX: sudo apt-get install latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-science texlive-fonts-recommended lmodern"; exit 1; }
	@test -f figures/numbers.tex || { echo "error: figures/numbers.tex is missing: run 'make figures' first"; exit 1; }
	cd thesis && latexmk -pdf -interaction=nonstopmode -halt-on-error main.tex >/dev/null && echo "wrote thesis/main.pdf"

test: $(STAMP) ## run the test suite (unit tests, references, notebook smoke runs)
	@# tests/test_lab.py drives JupyterLab in headless Chromium; install it where we can (Debian, as root)
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "chromium not found (the JupyterLab browser test needs it): apt-get install -y chromium"; \
			apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
				|| echo "warning: could not install chromium; tests/test_lab.py will fail"; \
		else \
			echo "warning: chromium not found and not installable here (needs root and apt-get); tests/test_lab.py will fail. Install it with: sudo apt-get install -y chromium"; \
		fi; \
	fi
	$(PY) -m pytest

lab: $(STAMP) ## open the notebooks in JupyterLab (percent .py files open as notebooks)
	$(PY) -m poisondetect.lab

bench: $(STAMP) ## run the speed and quality benchmarks, printing JSON
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

bench-thesis: $(STAMP) ## the thesis's experiment on real GTSRB, every detector vs the thesis's rates (long: trains 24 models; ARGS="--seeds 0")
	$(PY) benchmarks/thesis_comparison.py $(ARGS)

data: $(STAMP) ## build the real GTSRB 32x32 cache in $$POISONDETECT_DATA (downloads GTSRB)
	$(PY) -m poisondetect.data.gtsrb

clean: ## remove generated outputs (figures, build, artifacts cache); keeps .venv
	rm -rf build artifacts figures/*/ figures/*.tex figures/*.json
	cd thesis && latexmk -C >/dev/null 2>&1 || true
