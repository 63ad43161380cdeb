"""Puts files into a known page-cache state before an engine opens them, so that open-to-first
is measured in a defined state rather than in whatever state the machine left:

    python3 bench/page_cache.py drop FILE...   # evict (posix_fadvise DONTNEED): a cold open,
                                               # the model read from disk
    python3 bench/page_cache.py warm FILE...   # read every byte: a warm open, as when a service
                                               # restarts on a model it used before
    python3 bench/page_cache.py read FILE...   # evict, then time reading it back from disk with
                                               # 4 threads (one JSON line per file): what a cold
                                               # open cannot beat

Why it is needed here: this virtual machine runs a DAMON scheme (kdamond, action pageout) that
evicts page cache no process maps and nobody touched for about a minute, so between benchmark
engines a model file drifts out of the cache by an amount that depends on how long the other
engines ran. Standard library only.
"""
import json
import os
import sys
import threading
import time


def drop(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 20):
            pass


READ_THREADS = 4        # concurrent requests: one reader gets well under half the disk's speed here
READ_CHUNK = 1 << 20


def timed_read(path):
    """Evicts path, then reads it back with READ_THREADS threads (chunks taken in turn; os.preadv
    releases the GIL). Prints the wall time as JSON."""
    drop(path)
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)

    def reader(first):
        buf = bytearray(READ_CHUNK)
        for offset in range(first * READ_CHUNK, size, READ_THREADS * READ_CHUNK):
            os.preadv(fd, [buf], offset)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READ_THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = (time.perf_counter() - start) * 1e3
    os.close(fd)
    print(json.dumps({"metric": "disk_read_ms", "value": ms, "bytes": size,
                      "gb_s": size / ms / 1e6, "file": os.path.basename(path)}))


def main():
    actions = {"drop": drop, "warm": warm, "read": timed_read}
    if len(sys.argv) < 3 or sys.argv[1] not in actions:
        sys.exit("usage: python3 bench/page_cache.py drop|warm|read FILE...")
    for path in sys.argv[2:]:
        actions[sys.argv[1]](path)


if __name__ == "__main__":
    main()
