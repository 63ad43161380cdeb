#!/bin/sh
# Streams a million short texts through examples/encode and checks that its memory stays flat:
# the peak RSS with N texts must be within 25% + 4 MB of the peak with 10,000. Not part of
# `make test` (about 25 s of CPU on one core). Run from the repository root after `make test`:
#
#   sh tests/stress_encode_stream.sh [N]          (default N = 1000000)
#
# The texts come from a generator on a pipe (never a file), and the vectors go to /dev/null as
# .npy (seekable, so encode streams them instead of keeping them for the header). One thread by
# default (THREADS=n to change): the tiny model gives OpenMP too little work per batch to pay for
# its barriers, and on a busy machine spinning threads would measure the machine, not encode.
set -e
ENCODE=${ENCODE:-examples/encode}
MODEL=${MODEL:-build/models/ko-tiny.sbert}
exec "${PYTHON:-python3}" - "$ENCODE" "$MODEL" "${1:-1000000}" "${THREADS:-1}" <<'EOF'
import os, subprocess, sys, time

encode, model, n_big, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]


def run(n):
    """Encodes n generated texts; returns (peak RSS in MB, seconds) of the encode process."""
    with open(os.devnull, "wb") as sink:
        p = subprocess.Popen([encode, "-m", model, "-q", "--format", "npy", "--threads", threads],
                             stdin=subprocess.PIPE, stdout=sink)
        start = time.monotonic()
        for first in range(0, n, 10000):
            lines = (f"{i}번째 문장: 한 남자가 음식을 먹고 있다. sentence {i % 97}\n"
                     for i in range(first, min(n, first + 10000)))
            p.stdin.write("".join(lines).encode())
        p.stdin.close()
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"stress_encode_stream: encode failed on {n} texts")
    return usage.ru_maxrss / 1024, seconds


small_rss, small_s = run(10000)
big_rss, big_s = run(n_big)
print(f"{10000:>9} texts: peak RSS {small_rss:6.1f} MB, {small_s:5.1f} s")
print(f"{n_big:>9} texts: peak RSS {big_rss:6.1f} MB, {big_s:5.1f} s "
      f"({n_big / big_s:,.0f} texts/s)")
if big_rss > 1.25 * small_rss + 4:
    sys.exit(f"stress_encode_stream: memory grows with the input ({small_rss:.1f} MB -> "
             f"{big_rss:.1f} MB)")
print("memory stays flat: PASS")
EOF
