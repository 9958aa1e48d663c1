# One-command setup for a fresh Debian/Ubuntu machine: system packages, then .venv with the project.
# `make demo` and `make test` are the two entry points of the README's Quick start.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := espeak-ng flite libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins wordnet-base fortunes trans-de-en sox \
	default-jdk-headless junit4 cmake gcc g++ python3-dev libhnswlib-dev nlohmann-json3-dev libssl-dev
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test eval bench native gpu-bundle index-compare clean-venv android-core-test android-core-bench android-assets

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

$(STAMP): pyproject.toml setup.py s2r_edge/_walk.c | system-deps
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/s2r-edge demo

test: setup native android-core-test
	$(BIN)/python -m pytest -q

eval: setup
	$(BIN)/python benchmarks/eval_bench.py

bench: setup native
	$(BIN)/python benchmarks/bench_report.py

# What scripts/gpu_host/train.sh needs on a bare GPU host (DESIGN.md § GPU host): TTS .debs, a no-op libpcaudio,
# soundfile wheels for its Python 3.12 (numpy comes with its torch) and the teacher's targets for every training
# text (about 3 min on 2 cores).
GPU_DEBS := espeak-ng espeak-ng-data libespeak-ng1 libpcaudio0 libsonic0 flite libflite1 libasound2 libasound2-data
gpu-bundle: setup
	rm -rf .gpu/debs .gpu/whl && mkdir -p .gpu/debs .gpu/whl
	cd .gpu/debs && apt-get download $(GPU_DEBS)
	gcc -shared -fPIC -O2 -o .gpu/libpcaudio.so.0 scripts/gpu_host/pcaudio_stub.c
	$(BIN)/pip download -q --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
		--platform manylinux2014_x86_64 --no-deps -d .gpu/whl soundfile cffi pycparser
	$(BIN)/s2r-edge synth --targets-out .gpu/texts.npz --wordnet 100000 --fortunes 10000 --ding 20000
	du -sh .gpu

# Compact index vs FAISS / USearch / exact (about 19 min on 2 cores; needs the bench extra and `make eval`'s audio).
index-compare: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/index_compare.py

# Android demo core: plain Java compiled with javac and tested with JUnit from Debian (no Gradle, no SDK).
# Its golden inputs (model, index, spoken queries and their Python hits) come from make_assets.py --golden.
CORE := android_demo/core
CORE_ASSETS := $(CORE)/build/test-assets
JUNIT_CP := /usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
CORE_CP := $(CORE)/build/classes:$(CORE)/build/test-classes:$(JUNIT_CP)
CORE_TESTS = $$(cd $(CORE)/src/test/java && find . -name '*Test.java' | sed 's|^\./||; s|\.java$$||; s|/|.|g')

$(CORE_ASSETS)/.done: android_demo/make_assets.py s2r_edge/models/encoder_int8.pte s2r_edge/data/demo_docs.jsonl \
		s2r_edge/index.py s2r_edge/runtime.py | setup
	rm -rf $(CORE_ASSETS)
	$(BIN)/python android_demo/make_assets.py --out $(CORE_ASSETS) --golden
	touch $@

$(CORE)/build/.compiled: $(CORE_ASSETS)/.done $(shell find $(CORE)/src -name '*.java')
	rm -rf $(CORE)/build/classes $(CORE)/build/test-classes
	javac -Xlint:all -Werror -d $(CORE)/build/classes $$(find $(CORE)/src/main/java -name '*.java')
	javac -Xlint:all -Werror -cp $(CORE)/build/classes:$(JUNIT_CP) -d $(CORE)/build/test-classes $$(find $(CORE)/src/test/java -name '*.java')
	touch $@

android-core-test: $(CORE)/build/.compiled
	java -cp $(CORE_CP) -Ds2r.assets=$(CORE_ASSETS) org.junit.runner.JUnitCore $(CORE_TESTS)

android-core-bench: $(CORE)/build/.compiled
	java -cp $(CORE_CP) -Ds2r.assets=$(CORE_ASSETS) dev.s2redge.core.SearchBenchmark

# What the Android app ships (android_demo/app/s2r-assets, read by its Gradle build): the model and a demo index.
android-assets: setup
	$(BIN)/python android_demo/make_assets.py --out android_demo/app/s2r-assets
# The C++ runner (benchmarks/native): the ExecuTorch wheel's CMake package, hnswlib and nlohmann-json headers.
NATIVE_BUILD := benchmarks/native/build
native: setup
	cmake -S benchmarks/native -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_PREFIX_PATH="$$($(BIN)/python -c 'import executorch; print(list(executorch.__path__)[0])')" >/dev/null
	cmake --build $(NATIVE_BUILD) -j2

clean-venv:
	rm -rf $(VENV)
