# qforge top-level commands. Everything goes through CMake; this file only
# sequences set-up, configure, build and the three user-facing jobs.
#   make demo   set up, build qforge-train, run the QAT recipe (the main job)
#   make test   set up, build, run the whole test suite (ctest)
#   make bench  set up, build, run the benchmarks and print the comparison table
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=


.PHONY: all setup configure build demo test bench bench-cuda gpu-kit clean

all: build

setup:
	@bash scripts/setup-deps.sh

# Configure every time (a second of CMake when nothing changed), so changed
# CMAKE_FLAGS (e.g. -DQFORGE_SANITIZE=OFF) always take effect. ccache (installed
# by setup) shortens generator rebuilds; it is looked up when the recipe runs,
# i.e. after setup has installed it.
configure: setup
	@mkdir -p $(BUILD) && cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache) \
	  $(CMAKE_FLAGS) > $(BUILD)/configure.log || { cat $(BUILD)/configure.log; exit 1; }

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The main job: qforge-train's default recipe (FP32, PTQ and QAT at 8 and 4
# bits, mixed, 3 and 2 bits; conversion; evaluation). Builds only what it runs.
DEMO_FLAGS ?=
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target qforge-train
	$(BUILD)/driver/qforge-train --report $(BUILD)/qforge-report $(DEMO_FLAGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash scripts/setup-deps.sh --bench
	cmake --build $(BUILD) -j $(JOBS) --target qforge-bench-all
	bash bench/run_all.sh $(BUILD)

# The GPU benchmarks next to PyTorch on the same GPU (a machine with a CUDA
# device; docs/cuda.md). gpu-kit packs the GPU test, benchmark and qforge-train
# to copy to such a machine and run there with `bash build/gpu-kit/gpu-check.sh`.
bench-cuda: build
	python3 bench/cuda_compare.py $(BUILD)/bench/bench_cuda --out $(BUILD)/bench/cuda_summary.json

gpu-kit: build
	bash scripts/make-gpu-kit.sh $(BUILD)

clean:
	rm -rf $(BUILD)
