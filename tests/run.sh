#!/bin/sh
# Runs every test program (build/tests/test_*) and every Python test (tests/test_*.py) from the
# repository root, and ends with the line "N passed, N failed, N skipped" counting test programs.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
# A test that exits 77 could not run (it printed SKIP and why): counted apart, never as passed.
passed=0; failed=0; skipped=0; failed_names=""; skipped_names=""
run() {
    name=$1; shift
    "$@"; rc=$?
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then skipped=$((skipped + 1)); skipped_names="$skipped_names $name"
    else failed=$((failed + 1)); failed_names="$failed_names $name"; fi
}
skip() {
    echo "SKIP: $1: $2"
    skipped=$((skipped + 1)); skipped_names="$skipped_names $1"
}
for t in "$BUILD"/tests/test_*; do
    case "$t" in *.d) continue ;; esac
    [ -x "$t" ] || continue
    run "$(basename "$t")" "$t"
done
# make leaves test_cxx_api out when it finds no C++ compiler (NO_CXX names the one it looked for).
[ -n "${NO_CXX:-}" ] && skip test_cxx_api "no C++ compiler ($NO_CXX) found, include/sbert.h not compiled as C++"
# The golden models again on the AVX2 kernels (int8: vpmaddubsw, then AVX-VNNI where the CPU has
# it), and on AVX512-VNNI where the CPU has AMX: test_kernels checks each kernel against the
# portable ones, this the whole model on them.
if [ -x "$BUILD/tests/test_golden" ]; then
    if grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then
        run "test_golden (SBERT_ISA=avx512)" env SBERT_ISA=avx512 "$BUILD/tests/test_golden"
    fi
    run "test_golden (SBERT_ISA=avx2)" env SBERT_ISA=avx2 "$BUILD/tests/test_golden"
    run "test_golden (SBERT_ISA=avx-vnni)" env SBERT_ISA=avx-vnni "$BUILD/tests/test_golden"
fi
# A sanitized libsbert.so loads into Python only after its sanitizer runtimes (make test-asan names
# them in SANITIZER_PRELOAD); Python's own allocations are not ours to check for leaks.
python_env="BUILD=$BUILD"
[ -n "${SANITIZER_PRELOAD:-}" ] &&
    python_env="$python_env LD_PRELOAD=$SANITIZER_PRELOAD ASAN_OPTIONS=detect_leaks=0"
for t in tests/test_*.py; do
    [ -f "$t" ] || continue
    run "$(basename "$t")" env $python_env "$PYTHON" "$t"
done
# The Python package again under an interpreter with NumPy (Debian's python3-numpy) when $PYTHON
# has none, so that both its NumPy results and its plain lists are tested.
if ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
    PYTHON_NUMPY=
    for p in python3 /usr/bin/python3; do
        if "$p" -c 'import numpy' 2>/dev/null; then PYTHON_NUMPY=$p; break; fi
    done
    if [ -n "$PYTHON_NUMPY" ]; then
        run "test_python_package.py ($PYTHON_NUMPY, NumPy)" env $python_env "$PYTHON_NUMPY" tests/test_python_package.py
    else
        echo "SKIP: the Python package with NumPy: no interpreter here has NumPy (apt-get install python3-numpy)"
        skipped_names="$skipped_names test_python_package.py(NumPy)"
    fi
fi
[ -z "$failed_names" ] || echo "failed:$failed_names"
[ -z "$skipped_names" ] || echo "skipped (see their SKIP lines for why):$skipped_names"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
