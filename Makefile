# One-command setup for a fresh Debian/Ubuntu machine: system packages, then .venv with the project.
# `make demo` and `make test` are the two entry points of the README's Quick start.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := espeak-ng flite libportaudio2 libsndfile1 pulseaudio wordnet-base sox \
	cmake g++ libhnswlib-dev nlohmann-json3-dev libssl-dev
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test eval bench native clean-venv

setup: $(STAMP)

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $$missing" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "please install these system packages, then run make again: $$missing" >&2; exit 1; \
	fi

$(STAMP): pyproject.toml | system-deps
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/s2r-edge demo

test: setup native
	$(BIN)/python -m pytest -q

eval: setup
	$(BIN)/python benchmarks/eval_demo.py

bench: setup
	$(BIN)/python benchmarks/bench_report.py

# The C++ runner (benchmarks/native): the ExecuTorch wheel's CMake package, hnswlib and nlohmann-json headers.
NATIVE_BUILD := benchmarks/native/build
native: setup
	cmake -S benchmarks/native -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_PREFIX_PATH="$$($(BIN)/python -c 'import executorch; print(list(executorch.__path__)[0])')" >/dev/null
	cmake --build $(NATIVE_BUILD) -j2

clean-venv:
	rm -rf $(VENV)
