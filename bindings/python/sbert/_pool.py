"""A bounded pool of sbert_context handles shared by every thread that uses one Model.

sbert.h: a context is one thread's working memory and must not be used by two threads at once, but
it may move between threads. So no thread owns a context: a call borrows one for its duration and
gives it back. At most `limit` contexts exist at any time (a call waits when all are busy), so
neither memory nor the contexts' worker threads grow with the number of threads that ever called,
and a thread that ends leaves nothing behind. close() waits for the calls in flight, then frees
every context.
"""
import threading
from contextlib import contextmanager


class ClosedError(ValueError):
    """The Model was closed; open it again to use it."""


class ContextPool:
    def __init__(self, create, free, limit):
        self._create, self._free, self._limit = create, free, limit
        self._cond = threading.Condition()
        self._idle = {}        # context key (its batch size) -> [handles]
        self._alive = 0        # contexts that exist, idle or in use
        self._busy = 0         # contexts lent out
        self._closed = False

    @property
    def alive(self):
        with self._cond:
            return self._alive

    @property
    def limit(self):
        return self._limit

    @contextmanager
    def context(self, key):
        ctx = self._acquire(key)
        try:
            yield ctx
        finally:
            with self._cond:
                self._idle.setdefault(key, []).append(ctx)
                self._busy -= 1
                self._cond.notify_all()

    def _acquire(self, key):
        evicted = None
        with self._cond:
            while True:
                self._check_open()
                idle = self._idle.get(key)
                if idle:
                    self._busy += 1
                    return idle.pop()
                if self._alive < self._limit:
                    break
                other = next((k for k, v in self._idle.items() if v), None)
                if other is not None:  # an idle context made for another batch size gives way
                    evicted = self._idle[other].pop()
                    self._alive -= 1
                    break
                self._cond.wait()
            self._alive += 1
            self._busy += 1
        try:
            if evicted is not None:
                self._free(evicted)
            return self._create(key)
        except BaseException:
            with self._cond:
                self._alive -= 1
                self._busy -= 1
                self._cond.notify_all()
            raise

    def _check_open(self):
        if self._closed:
            raise ClosedError("this Model is closed")

    def check_open(self):
        with self._cond:
            self._check_open()

    def close(self):
        """Refuses new calls, waits for those in flight, frees every context. Idempotent."""
        with self._cond:
            self._closed = True
            while self._busy:
                self._cond.wait()
            handles = [h for v in self._idle.values() for h in v]
            self._idle.clear()
            self._alive = 0
        for h in handles:
            self._free(h)
