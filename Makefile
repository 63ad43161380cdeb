# libsbert — build with nothing but a C11 compiler and libc's threads (pthreads).
#
#   make            build/libsbert.a, build/libsbert.so, examples/ (encode, rerank, demo, quickstart,
#                   search, sts_eval)
#   make demo       encode the sample sentences with the bundled Korean model
#   make test       every test (C unit tests, golden comparisons, converter tests)
#   make check-layers  the folders of libsbert/ include and call only lower layers (in make test)
#   make test-asan  the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-arm64 the C tests cross-compiled for aarch64, run under qemu-user
#   make bench      speed against ONNX Runtime and PyTorch (installs its peers; never part of test)
#   make bench-gemm the GEMM alone (fp32 and int8) against the machine's FMA peak
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each
#   make install    header, libsbert.a/.so, sbert.pc, CMake package, sbert-encode/-rerank under PREFIX
#                   (/usr/local; also DESTDIR, LIBDIR, INCLUDEDIR, BINDIR: see mk/install.mk)
#   make uninstall  removes what make install put there (give it the same variables)
#   make clean      removes what the build made
#   make help       this list

CC       ?= cc
PYTHON   ?= python3
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
BUILD    ?= build
SANITIZE ?=

# Threads come from libsbert's own pool (libsbert/base/threadpool.c, pthreads); OpenMP is not used.
# THREADS=0 builds a library that runs every call in the calling thread (-DSBERT_NO_THREADS).
THREADS ?= 1
ifeq ($(THREADS),0)
  THREAD_FLAGS = -DSBERT_NO_THREADS
endif

# CPPFLAGS, CFLAGS, LDFLAGS and LDLIBS from the command line or the environment are honoured (a
# packager's hardening flags); the library's own flags come first. The library is C11 plus the
# POSIX its few files ask for themselves (memory.c, model_file.c, threadpool.c define their
# feature macros); the programs (examples, tests, bench) get POSIX 2008 and the BSD extras.
BASE_CPPFLAGS = -Iinclude -Ilibsbert $(THREAD_FLAGS)
BASE_CFLAGS   = -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter -fPIC -fvisibility=hidden \
                $(SANITIZE)
PROGRAM_FLAGS = -D_DEFAULT_SOURCE
DEPFLAGS      = -MMD -MP
SB_LIBS       = -lm $(SANITIZE) -lpthread
# Target binutils: the compiler's prefix (aarch64-linux-gnu-gcc -> aarch64-linux-gnu-objcopy).
CROSS   = $(patsubst %gcc,%,$(filter %-gcc,$(notdir $(CC))))
OBJCOPY ?= $(CROSS)objcopy

# Kernels for one instruction set live in files named *_avx2.c / *_avx512.c (*_avx512vnni.c and
# *_avxvnni.c add VNNI, *_amx.c AMX); only those files are compiled for that ISA, and the dispatcher picks one
# at run time from CPUID. On other targets (ARM, ...) those files compile to nothing (their code is
# under #ifdef SB_X86) and get no flags, which such a compiler would refuse.
X86 := $(filter x86_64% i386% i486% i586% i686% amd64%,$(shell $(CC) -dumpmachine 2>/dev/null))
ifneq ($(X86),)
  AVX2_FLAGS   = -mavx2 -mfma -mf16c
  AVX512_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c
  AVX512VNNI_FLAGS = $(AVX512_FLAGS) -mavx512vnni
  # AVX-VNNI needs GCC 11 / clang 12; an older compiler builds *_avxvnni.c as the AVX2 kernel (the
  # same results, without the speed).
  AVXVNNI_FLAGS = $(AVX2_FLAGS) $(shell $(CC) -mavxvnni -E -x c /dev/null >/dev/null 2>&1 && echo -mavxvnni)
  # AMX needs GCC 11 / clang 12 too; an older compiler builds *_amx.c empty (the VNNI kernels run).
  AMX_FLAGS = $(AVX512VNNI_FLAGS) $(shell $(CC) -mamx-tile -mamx-int8 -E -x c /dev/null >/dev/null 2>&1 && echo -mamx-tile -mamx-int8)
endif

LIB_SRC  = $(sort $(wildcard libsbert/*.c libsbert/*/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(sort $(wildcard tests/test_*.c))
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# Example programs are built into examples/ (the sanitizer build puts its own under build-asan/).
EXDIR    ?= examples
EXAMPLES = $(EXDIR)/encode $(EXDIR)/rerank $(EXDIR)/demo $(EXDIR)/quickstart $(EXDIR)/search \
           $(EXDIR)/sts_eval

.PHONY: bench-rerank all demo test check-layers test-asan test-tsan test-arm64 check-fullsize bench bench-gemm fuzz clean help
all: $(BUILD)/libsbert.a $(BUILD)/libsbert.so $(EXAMPLES)

# Header dependencies, as the compiler found them (-MMD -MP).
-include $(wildcard $(BUILD)/libsbert/*/*.d $(BUILD)/tests/*.d)

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile

# The version (include/sbert.h, the only place it is written) names the shared library:
# libsbert.so.$(VERSION) with SONAME libsbert.so.$(SOVERSION), and the usual two symlinks. The
# SONAME changes with the ABI: with the major version, and before 1.0 with each minor (0.3).
VERSION      := $(shell sed -n 's/^\#define SBERT_VERSION_STRING "\(.*\)"/\1/p' include/sbert.h)
VERSION_PARTS = $(subst ., ,$(VERSION))
SOVERSION     = $(if $(filter 0,$(word 1,$(VERSION_PARTS))),0.$(word 2,$(VERSION_PARTS)),$(word 1,$(VERSION_PARTS)))
SHLIB_SONAME  = libsbert.so.$(SOVERSION)
SHLIB_REAL    = libsbert.so.$(VERSION)
include mk/install.mk

# The flags of a kernel file's instruction set, from its name (see above).
ISA_FLAGS = $(if $(findstring _amx,$<),$(AMX_FLAGS))$(if $(findstring _avx512vnni,$<),$(AVX512VNNI_FLAGS),$(if $(findstring _avx512,$<),$(AVX512_FLAGS)))$(if $(findstring _avx2,$<),$(AVX2_FLAGS))$(if $(findstring _avxvnni,$<),$(AVXVNNI_FLAGS))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(BASE_CFLAGS) $(CFLAGS) $(ISA_FLAGS) $(DEPFLAGS) -c $< -o $@

# The static library exports only the API: its objects are linked into one (ld -r) whose hidden
# symbols (every sb_* function: -fvisibility=hidden, only SBERT_API is default) are made local,
# so none of them can clash with a user's symbols. Tests, fuzzers and bench_gemm reach internals
# through libsbert-internal.a, the same objects as they are.
$(BUILD)/libsbert.o: $(LIB_OBJ)
	$(CC) -r -nostdlib -o $@ $^
	$(OBJCOPY) --localize-hidden $@
$(BUILD)/libsbert.a: $(BUILD)/libsbert.o
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/libsbert-internal.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libsbert.so: $(BUILD)/$(SHLIB_REAL)
	ln -sf $(SHLIB_REAL) $(BUILD)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_SONAME) $@
$(BUILD)/$(SHLIB_REAL): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SHLIB_SONAME) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(SB_LIBS)

# Examples link the public archive, as a user's program does.
$(EXDIR)/%: examples/%.c $(wildcard examples/*.h) $(BUILD)/libsbert.a include/sbert.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PROGRAM_FLAGS) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $< \
	    -o $@ $(BUILD)/libsbert.a $(LDLIBS) $(SB_LIBS)

# Tests may include internal headers (libsbert/*/*.h) to reach internals, as llama2.c's tests do.
$(BUILD)/tests/%: tests/%.c tests/harness.h $(BUILD)/libsbert-internal.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PROGRAM_FLAGS) -Itests $(BASE_CFLAGS) $(CFLAGS) \
	    $(DEPFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/libsbert-internal.a $(LDLIBS) $(SB_LIBS)

# The public header from C++ (tests/test_cxx_api.cpp): part of `make test` when make's C++ compiler
# ($(CXX), g++ unless set) is found, since the library itself needs none.
CXXFLAGS_TEST = -std=c++11 -Wall -Wextra -pedantic -Werror -Iinclude -Itests $(SANITIZE)
ifneq ($(shell command -v $(CXX) 2>/dev/null),)
  TEST_BIN += $(BUILD)/tests/test_cxx_api
else
  NO_CXX = $(CXX)
endif
$(BUILD)/tests/test_cxx_api: tests/test_cxx_api.cpp tests/harness.h include/sbert.h $(BUILD)/libsbert.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_TEST) $(OPT) -g $(LDFLAGS) $< -o $@ $(BUILD)/libsbert.a $(LDLIBS) $(SB_LIBS)

# test_alloc_failures fails the Nth allocation: the linker sends every allocator call of the
# library and the test to the test's __wrap_ functions.
$(BUILD)/tests/test_alloc_failures: LDLIBS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign,--wrap=free

# The bundled demo model: tests/data/models/ko-small (a small Korean model really trained in the
# ko-sroberta layout) converted to f16. It is committed; the rule only runs when it is missing.
DEMO_MODEL = models/ko-small-f16.sbert
$(DEMO_MODEL):
	@mkdir -p $(dir $@)
	$(PYTHON) tools/convert_safetensors.py tests/data/models/ko-small $@ --dtype f16

demo: all $(DEMO_MODEL)
	examples/demo $(DEMO_MODEL) tests/data/seed_sentences.txt tests/data/korsts/sts-test.tsv

# The test models are converted from the Hugging Face directories in tests/data/models (f32).
TEST_MODELS = $(BUILD)/models/wide-1024.sbert $(BUILD)/models/ko-tiny.sbert $(BUILD)/models/minilm-tiny.sbert $(BUILD)/models/ko-small.sbert $(BUILD)/models/xlmr-tiny.sbert $(BUILD)/models/mpnet-tiny.sbert $(BUILD)/models/xlmr-long.sbert $(BUILD)/models/odd-heads.sbert \
              $(BUILD)/models/odd-heads-bf16.sbert $(BUILD)/models/ko-tiny-f16.sbert \
              $(BUILD)/models/ko-small-int8.sbert $(BUILD)/models/ko-small-mixed.sbert \
              $(BUILD)/models/odd-heads-int8.sbert \
              $(CE_MODELS)
# The cross-encoders (rerankers, NLI) of tests/data/cross-encoders with their golden scores.
CE_MODELS = $(BUILD)/models/ce-minilm.sbert $(BUILD)/models/ce-xlmr.sbert $(BUILD)/models/ce-ko-nli.sbert
$(BUILD)/models/ce-%.sbert: tests/data/cross-encoders/ce-%/config.json tools/convert_safetensors.py tools/checkpoint.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/convert_safetensors.py tests/data/cross-encoders/ce-$* $@ --quiet
$(BUILD)/models/%.sbert: tests/data/models/%/config.json tools/convert_safetensors.py tools/checkpoint.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/convert_safetensors.py tests/data/models/$* $@ --quiet

# A random model with heads of 12 floats and an FFN of 52 (shapes that are not multiples of the
# GEMM's 16-column panels) for tests/test_reference.c; made at test time, not committed.
$(BUILD)/models/odd-heads.sbert: tools/make_random_model.py tools/convert_safetensors.py tools/checkpoint.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/make_random_model.py $(BUILD)/models/odd-heads-hf --seed 3 --hidden 36 \
	    --heads 3 --layers 2 --intermediate 52 --max-seq-length 512 >/dev/null
	$(PYTHON) tools/convert_safetensors.py $(BUILD)/models/odd-heads-hf $@ --quiet

# A random model 1024 wide (bge-large, e5-large) for the README's C example; one layer and a
# 105-token vocabulary keep it at 18 MB. Made at test time, not committed.
$(BUILD)/models/wide-1024.sbert: tools/make_random_model.py tools/convert_safetensors.py tools/checkpoint.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/make_random_model.py $(BUILD)/models/wide-1024-hf --seed 5 --model-type bert \
	    --tokenizer tests/data/tokenizers/tiny-wordpiece --vocab 105 --hidden 1024 --heads 16 \
	    --layers 1 --intermediate 64 --max-positions 66 --max-seq-length 64 >/dev/null
	$(PYTHON) tools/convert_safetensors.py $(BUILD)/models/wide-1024-hf $@ --quiet

# The same weights stored as BF16 and F16 (Linear weights kept so, run by the 2-byte kernels).
$(BUILD)/models/odd-heads-bf16.sbert: $(BUILD)/models/odd-heads.sbert
	$(PYTHON) tools/convert_safetensors.py $(BUILD)/models/odd-heads-hf $@ --dtype bf16 --quiet
# The trained model with int8 weights (tests/test_golden.c holds it to its own, looser bound).
$(BUILD)/models/ko-small-int8.sbert: tests/data/models/ko-small/config.json tools/convert_safetensors.py tools/checkpoint.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/convert_safetensors.py tests/data/models/ko-small $@ --dtype int8 --quiet
# ko-small with a dtype per Linear weight (int8 next to f32, f16 and bf16), for the same bound.
$(BUILD)/models/ko-small-mixed.sbert: tests/data/models/ko-small/config.json tests/make_mixed_model.py tools/convert_safetensors.py tools/checkpoint.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/make_mixed_model.py tests/data/models/ko-small $@
$(BUILD)/models/odd-heads-int8.sbert: $(BUILD)/models/odd-heads.sbert
	$(PYTHON) tools/convert_safetensors.py $(BUILD)/models/odd-heads-hf $@ --dtype int8 --quiet
$(BUILD)/models/ko-tiny-f16.sbert: tests/data/models/ko-tiny/config.json tools/convert_safetensors.py tools/checkpoint.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/convert_safetensors.py tests/data/models/ko-tiny $@ --dtype f16 --quiet

test: all check-layers $(TEST_BIN) $(TEST_MODELS)
	@BUILD=$(BUILD) ENCODE=$(EXDIR)/encode RERANK=$(EXDIR)/rerank EXDIR=$(EXDIR) PYTHON=$(PYTHON) \
	    NO_CXX="$(NO_CXX)" sh tests/run.sh

# The folders of libsbert/ are layers (README, "Layout"): no #include of a higher layer's header,
# no call from an object to a higher layer's, no cycle between folders (tools/check_layers.py).
check-layers: $(LIB_OBJ)
	$(PYTHON) tools/check_layers.py --src libsbert --objects $(BUILD)/libsbert

test-asan:
	SBERT_SANITIZED=1 SANITIZER_PRELOAD="$$($(CC) -print-file-name=libasan.so):$$($(CC) -print-file-name=libubsan.so)" $(MAKE) BUILD=build-asan EXDIR=build-asan/examples OPT=-O1 SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

# The 12 x 768 ko-sroberta-shaped model (random weights) against an independent PyTorch reference
# (Debian python3-torch); prints SKIP when torch is absent.
check-fullsize: all
	$(PYTHON) tests/check_fullsize.py

# Speed against ONNX Runtime and PyTorch on the same random weights; installs its peers itself.
# Never part of `make test`. Results: bench/work/results.md and bench/work/bench.png; then the
# reranker (bench/rerank.sh, alone: make bench-rerank): bench/work/rerank.md.
bench: all
	sh bench/run.sh
	sh bench/rerank.sh

# The GEMM alone on a layer's shapes, fp32 and int8, against this machine's FMA peak
# (bench/bench_gemm.c, bench/fma_peak.c; internal headers, like the tests).
bench-gemm: $(BUILD)/bench/bench_gemm $(BUILD)/bench/fma_peak
	$(BUILD)/bench/fma_peak | tee $(BUILD)/bench/fma_peak.txt
	@set -- $$(sed -n 's/.*avx512 \([0-9.]*\) GFLOP.*/\1/p' $(BUILD)/bench/fma_peak.txt); \
	BENCH_GEMM_ROWS=$${BENCH_GEMM_ROWS:-4096} $(BUILD)/bench/bench_gemm $$1 $$2; \
	BENCH_GEMM_ROWS=$${BENCH_GEMM_ROWS:-4096} $(BUILD)/bench/bench_gemm $$1 $$2 int8
$(BUILD)/bench/bench_gemm: bench/bench_gemm.c $(BUILD)/libsbert-internal.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PROGRAM_FLAGS) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ \
	    $(BUILD)/libsbert-internal.a $(LDLIBS) $(SB_LIBS)
# Independent FMA chains (OpenMP for its threads when the compiler has it).
$(BUILD)/bench/fma_peak: bench/fma_peak.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -fopenmp $< -o $@ 2>/dev/null || $(CC) -O2 $< -o $@

# sbert_rerank's timing program (bench/rerank.sh) and the reranker bench alone.
$(BUILD)/bench/bench_rerank: bench/bench_rerank.c $(BUILD)/libsbert.a include/sbert.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PROGRAM_FLAGS) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ \
	    $(BUILD)/libsbert.a $(LDLIBS) $(SB_LIBS)
bench-rerank: all
	sh bench/rerank.sh

# The in-process timing program of bench/run.sh and bench/pairs.sh (public API only).
$(BUILD)/bench/bench_encode: bench/bench_encode.c $(BUILD)/libsbert.a include/sbert.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PROGRAM_FLAGS) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@ \
	    $(BUILD)/libsbert.a $(LDLIBS) $(SB_LIBS)

# ThreadSanitizer on the threading test: contexts sharing a model, and each context's own pool.
test-tsan: $(TEST_MODELS)
	$(MAKE) BUILD=build-tsan EXDIR=build-tsan/examples OPT=-O1 SANITIZE="-fsanitize=thread" build-tsan/tests/test_threads
	ln -sfn ../build/models build-tsan/models 2>/dev/null || true
	BUILD=build-tsan TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/test_threads

# Another architecture: the library cross-compiled for aarch64 (NEON kernels; char is unsigned
# there) and the C tests that need no Python run under qemu-user (Debian: gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross, qemu-user). test_golden and test_threads pass too but take minutes
# emulated: ARM_TESTS="..." to add them.
ARM_CC    ?= aarch64-linux-gnu-gcc
ARM_QEMU  ?= qemu-aarch64 -L /usr/aarch64-linux-gnu
ARM_TESTS ?= test_kernels test_tokenizer test_tokenizer_golden test_model_file test_limits \
             test_reference
test-arm64: $(TEST_MODELS)
	$(MAKE) BUILD=build-arm64 CC=$(ARM_CC) EXDIR=build-arm64/examples \
	    $(ARM_TESTS:%=build-arm64/tests/%) build-arm64/examples/encode
	@for t in $(ARM_TESTS); do $(ARM_QEMU) build-arm64/tests/$$t || exit 1; done
	$(ARM_QEMU) build-arm64/examples/encode --version

# libFuzzer targets: every tests/fuzz/fuzz_<name>.c, built with clang against the library compiled
# the same way (ASan + UBSan, coverage) in build-fuzz/, each run FUZZ_SECONDS from the
# seeds in tests/fuzz/corpus/<name>/. The seeds are only read: new inputs go to
# build-fuzz/corpus/<name>/, a crash to build-fuzz/<name>-crash-* and fails the target.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_NAMES     = $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_SANITIZE  = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

fuzz: $(TEST_MODELS)
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) OPT=-O1 \
	    SANITIZE="-fsanitize=fuzzer-no-link $(FUZZ_SANITIZE)" $(FUZZ_NAMES:%=build-fuzz/fuzz_%)
	@for name in $(FUZZ_NAMES); do \
	    mkdir -p build-fuzz/corpus/$$name; \
	    echo "fuzz_$$name: $(FUZZ_SECONDS) s (log: build-fuzz/$$name.log)"; \
	    dict=tests/fuzz/$$name.dict; [ -f $$dict ] && dict=-dict=$$dict || dict=; \
	    if build-fuzz/fuzz_$$name build-fuzz/corpus/$$name tests/fuzz/corpus/$$name $$dict \
	           -max_total_time=$(FUZZ_SECONDS) -timeout=30 -print_final_stats=1 \
	           -artifact_prefix=build-fuzz/$$name- >build-fuzz/$$name.log 2>&1; then \
	        grep -E '^#[0-9]+.*DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	            build-fuzz/$$name.log | sed 's/^/  /'; \
	    else \
	        tail -n 40 build-fuzz/$$name.log; echo "fuzz_$$name FAILED (see build-fuzz/$$name.log)"; \
	        exit 1; \
	    fi; \
	done

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(BUILD)/libsbert-internal.a
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PROGRAM_FLAGS) $(BASE_CFLAGS) $(CFLAGS) -fsanitize=fuzzer \
	    -Itests/fuzz $< -o $@ $(BUILD)/libsbert-internal.a $(LDLIBS) $(SB_LIBS)

clean:
	rm -rf build build-asan build-tsan build-fuzz build-serial build-arm64 examples/encode examples/rerank \
	    examples/demo examples/quickstart examples/search examples/sts_eval
