# Front door.  `make run` and `make test` are all a newcomer needs.
MAKEFLAGS += --no-print-directory
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
STORE      ?= ./demo-store
CMAKE_FLAGS ?=
# CI builds warning-free or fails.
ifneq ($(CI),)
CMAKE_FLAGS += -DTESS_WERROR=ON
endif

.PHONY: all deps build run test test-fast test-asan bench install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The main job: a demo store, blobs and attributes in it, and what to try next.
run: build
	@scripts/demo.sh $(BUILD)/tess $(STORE)

# Every test, then every test again under AddressSanitizer + UBSan.
test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-fast: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The sanitizer build's S3 tests start their own RGW, on other ports than the
# normal build's (17480), so the two runs may overlap.
test-asan: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTESS_SANITIZE=ON -DTESS_WERROR=ON \
	  -DTESS_S3_TEST_PORT=17490 >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  TESS_SANITIZED=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# bench_s3 runs against a throwaway RGW of its own (PORT+1 and PORT+2 are
# its monitor's), stopped afterwards even when the benchmark fails or is
# interrupted.
BENCH_S3_PORT ?= 17700
BENCH_S3_DIR  ?= $(BUILD)/bench-rgw

bench: build
	@scripts/deps.sh bench
	@$(BUILD)/bench_blob
	@[ ! -x $(BUILD)/bench_array ] || $(BUILD)/bench_array
	@[ ! -x $(BUILD)/bench_pyramid ] || $(BUILD)/bench_pyramid
	@trap 'scripts/rgw.sh down $(BENCH_S3_DIR) >/dev/null 2>&1' EXIT; trap 'exit 130' INT TERM HUP; \
	  scripts/rgw.sh up $(BENCH_S3_DIR) $(BENCH_S3_PORT) >&2 && \
	  AWS_ACCESS_KEY_ID=TESTKEY AWS_SECRET_ACCESS_KEY=TESTSECRET AWS_REGION=us-east-1 \
	  $(BUILD)/bench_s3 --endpoint http://127.0.0.1:$(BENCH_S3_PORT)

install: build
	@cmake --install $(BUILD)

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD)
