#!/usr/bin/env python3
"""Embed a large corpus with Dask distributed, one .npy file per partition plus a manifest.

    python3 examples/dask_embed.py MODEL.sbert CORPUS.txt OUT/ [--workers 2] [--partition-size 1000]
    python3 examples/dask_embed.py MODEL.sbert CORPUS.txt OUT/ --scheduler tcp://host:8786
    python3 examples/dask_embed.py MODEL.sbert CORPUS.txt OUT/ --single-process

CORPUS is one sentence per line in UTF-8 (empty lines count: row i of the output is line i; a line
that is not UTF-8 stops the run before any work, named as examples/encode names it, exit status
1). Partition p holds lines [p * size, (p + 1) * size) and becomes OUT/part-PPPPP.npy (float32,
rows x dim); OUT/manifest.json lists the partitions with their rows and SHA-256, the model, the
library version and the corpus' SHA-256. A partition file is written under a temporary name and
renamed, so a worker killed mid-partition leaves no partial file, and Dask gives the partition to
another worker.

Each worker process opens the model once (a worker plugin, applied to restarted workers too); the
model file is memory-mapped, so the workers of one machine share its pages. The vectors of a text
do not depend on the other texts of its batch or on the thread count, so the output is the same
bit for bit whatever the number of workers, and equal to --single-process (no Dask at all).

Without --scheduler a local cluster of --workers processes is started. On several machines: start
`dask-scheduler` on one, `dask-worker tcp://HOST:8786 --nworkers 1 --nthreads 1` on each (with the
model file at the same path, and OUT on a file system they share), then pass --scheduler
tcp://HOST:8786. Progress goes to standard error when it is a terminal.
"""
import argparse
import hashlib
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.join(HERE, "..", "bindings", "python")


def import_sbert(package_dir=PACKAGE_DIR):
    try:
        import sbert
    except ImportError:  # not installed: the checkout's package
        sys.path.insert(0, os.path.abspath(package_dir))
        import sbert
    return sbert


class CorpusError(Exception):
    """The corpus is not UTF-8 text; the message names the file and the line, as encode does."""


def decode_line(raw, path, number):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError("%s: line %d: text is not valid UTF-8: invalid UTF-8 at byte offset %d "
                          "(byte 0x%02X)" % (path, number, e.start, raw[e.start])) from None


def read_corpus(path):
    """(lines, SHA-256 of the file). Decoded line by line so that bad UTF-8 is named by its line."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    return [decode_line(line[:-1] if line.endswith(b"\r") else line, path, i + 1)
            for i, line in enumerate(lines)], hashlib.sha256(data).hexdigest()


def part_name(index):
    return "part-%05d.npy" % index


def write_partition(model, texts, index, out_dir, batch_size):
    """Encodes one partition into out_dir/part-NNNNN.npy (atomically); returns its manifest row."""
    import numpy
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size, show_progress_bar=False)
    if not isinstance(vectors, numpy.ndarray):
        vectors = numpy.asarray(vectors, dtype=numpy.float32).reshape(len(texts), -1)
    path = os.path.join(out_dir, part_name(index))
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        numpy.save(f, vectors)
    with open(tmp, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    os.replace(tmp, path)
    return {"file": part_name(index), "rows": len(texts), "sha256": digest,
            "seconds": round(time.perf_counter() - start, 4), "pid": os.getpid()}


class ModelPlugin:
    """A Dask worker plugin: the worker opens the model once, at start (and again when Dask
    restarts a worker that died)."""

    name = "sbert-model"

    def __init__(self, model_path, n_threads, package_dir):
        self.model_path, self.n_threads, self.package_dir = model_path, n_threads, package_dir

    def setup(self, worker):
        sbert = import_sbert(self.package_dir)
        worker.sbert_model = sbert.Model(self.model_path, n_threads=self.n_threads, max_contexts=1)

    def teardown(self, worker):
        model = getattr(worker, "sbert_model", None)
        if model is not None:
            model.close()


def embed_task(texts, index, out_dir, batch_size, kill_once):
    """The task of one partition, run on a worker with the model its plugin opened."""
    from distributed import get_worker
    if kill_once is not None and index == kill_once:
        marker = os.path.join(out_dir, "killed-worker.pid")
        try:  # the first worker to take this partition dies in the middle of it, once
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            pass
        else:
            os.write(fd, b"%d\n" % os.getpid())
            os.close(fd)
            sys.stderr.write("dask_embed: --kill-once: worker pid %d kills itself in partition %d\n"
                             % (os.getpid(), index))
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    return write_partition(get_worker().sbert_model, texts, index, out_dir, batch_size)


class Progress:
    def __init__(self, total):
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty()

    def step(self):
        self.done += 1
        if self.enabled:
            sys.stderr.write("\rdask_embed: %d/%d partitions" % (self.done, self.total))
            sys.stderr.write("\n" if self.done == self.total else "")
            sys.stderr.flush()


def run_single_process(args, parts):
    sbert = import_sbert()
    rows = []
    progress = Progress(len(parts))
    with sbert.Model(args.model, n_threads=args.threads_per_worker or 0) as model:
        for index, texts in enumerate(parts):
            rows.append(write_partition(model, texts, index, args.out, args.batch_size))
            progress.step()
    return rows, {"mode": "single process"}


def run_dask(args, parts):
    from distributed import Client, LocalCluster, as_completed
    import dask
    cluster = None
    # A worker that dies mid-task is not a task error: the scheduler reschedules its tasks, up to
    # allowed-failures times per task before giving up on it (KilledWorker).
    dask.config.set({"distributed.scheduler.allowed-failures": 3})
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        threads = args.threads_per_worker or max(1, cores // args.workers)
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        n_threads = args.threads_per_worker or (0 if args.scheduler else threads)
        client.register_worker_plugin(ModelPlugin(os.path.abspath(args.model), n_threads,
                                                  os.path.abspath(PACKAGE_DIR)),
                                      name=ModelPlugin.name)
        workers = len(client.scheduler_info()["workers"])
        started = time.perf_counter()
        futures = [client.submit(embed_task, texts, index, os.path.abspath(args.out),
                                 args.batch_size, args.kill_once, key="sbert-part-%05d" % index,
                                 pure=False, retries=2)
                   for index, texts in enumerate(parts)]
        rows = [None] * len(parts)
        progress = Progress(len(parts))
        for future in as_completed(futures):
            row = future.result()
            rows[int(future.key.rsplit("-", 1)[1])] = row
            progress.step()
        return rows, {"mode": "dask", "workers": workers,
                      "scheduler": args.scheduler or "local cluster",
                      "library_threads_per_worker": n_threads,
                      "seconds_after_start": round(time.perf_counter() - started, 3)}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("corpus", help="one sentence per line")
    p.add_argument("out", help="output folder (made if missing)")
    p.add_argument("--partition-size", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2, help="local cluster size (default 2)")
    p.add_argument("--threads-per-worker", type=int, default=None,
                   help="library threads per worker (default: the cores shared out)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, tcp://HOST:8786")
    p.add_argument("--single-process", action="store_true", help="no Dask: the reference run")
    p.add_argument("--kill-once", type=int, metavar="PARTITION",
                   help="demonstration: the worker that first takes PARTITION kills itself")
    args = p.parse_args(argv)
    for name in ("partition_size", "batch_size", "workers"):
        if getattr(args, name) < 1:
            p.error("--%s must be >= 1" % name.replace("_", "-"))
    if not os.path.isfile(args.model):
        p.error("model file not found: %s" % args.model)

    try:
        import numpy  # noqa: F401  (the .npy files)
    except ImportError:
        sys.exit("dask_embed: NumPy is not installed (Debian: apt-get install python3-numpy)")
    try:
        texts, corpus_sha = read_corpus(args.corpus)
    except (OSError, CorpusError) as e:
        sys.exit("dask_embed: %s" % e)
    parts = [texts[i:i + args.partition_size] for i in range(0, len(texts), args.partition_size)]
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):  # a previous run's output would mix with this one's
        if name.startswith("part-") or name in ("manifest.json", "killed-worker.pid"):
            os.remove(os.path.join(args.out, name))

    start = time.perf_counter()
    if args.single_process:
        rows, how = run_single_process(args, parts)
    else:
        try:
            import distributed  # noqa: F401
        except ImportError:
            sys.exit("dask_embed: Dask distributed is not installed (Debian: apt-get install "
                     "python3-distributed); --single-process runs without it")
        rows, how = run_dask(args, parts)
    seconds = time.perf_counter() - start

    sbert = import_sbert()
    manifest = {
        "model": os.path.abspath(args.model),
        "library": sbert.version(),
        "corpus": os.path.abspath(args.corpus),
        "corpus_sha256": corpus_sha,
        "sentences": len(texts),
        "partition_size": args.partition_size,
        "dtype": "float32",
        "partitions": rows,
        "run": dict(how, seconds=round(seconds, 3),
                    sentences_per_second=round(len(texts) / seconds, 1) if seconds else None),
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    print("dask_embed: %d sentences in %d partitions -> %s in %.2f s (%.1f sentences/s, %s)"
          % (len(texts), len(parts), args.out, seconds, len(texts) / seconds if seconds else 0,
             ", ".join("%s %s" % kv for kv in how.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
