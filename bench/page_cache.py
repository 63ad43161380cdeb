"""Puts files into a known page-cache state before an engine opens them, so that open-to-first
is measured in a defined state rather than in whatever state the machine left:

    python3 bench/page_cache.py drop FILE...   # evict (posix_fadvise DONTNEED): a cold open,
                                               # the model read from disk
    python3 bench/page_cache.py warm FILE...   # read every byte: a warm open, as when a service
                                               # restarts on a model it used before

Why it is needed here: this virtual machine runs a DAMON scheme (kdamond, action pageout) that
evicts page cache no process maps and nobody touched for about a minute, so between benchmark
engines a model file drifts out of the cache by an amount that depends on how long the other
engines ran. Standard library only.
"""
import os
import sys


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


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("drop", "warm"):
        sys.exit("usage: python3 bench/page_cache.py drop|warm FILE...")
    for path in sys.argv[2:]:
        (drop if sys.argv[1] == "drop" else warm)(path)


if __name__ == "__main__":
    main()
