"""sbert.CrossEncoder: a reranker or NLI .sbert file with the interface of
sentence_transformers.CrossEncoder (predict, rank)."""
import array
import ctypes
import math
import sys

from ._quantize import numpy
from .model import _check_batch_size, _check_bool, _check_type, _Handle, _Progress, _utf8


def _pairs(sentences):
    """(list of (a, b) str pairs, was_a_single_pair). A single pair is a list or tuple of two
    str, as predict() takes it."""
    def is_pair(p):
        return isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(t, str) for t in p)
    if is_pair(sentences):
        return [tuple(sentences)], True
    if isinstance(sentences, (str, bytes, bytearray, dict, set, frozenset)) or \
            not hasattr(sentences, "__iter__"):
        raise TypeError("sentences must be a pair [a, b] of str or a list of pairs, not %s"
                        % type(sentences).__name__)
    pairs = list(sentences)
    for i, p in enumerate(pairs):
        if not is_pair(p):
            raise TypeError("sentences[%d] must be a pair [a, b] of two str, not %r"
                            % (i, p if len(repr(p)) < 80 else type(p).__name__))
    return pairs, False


def _activate(activation_fn, rows, labels):
    """activation_fn applied as CrossEncoder.predict applies it: once, to the logits of all the
    pairs as one [n, num_labels] matrix, which is a torch tensor when torch is imported (what
    torch.nn.Sigmoid() and the like take), else a NumPy array, else a list of rows. Its result
    must have that shape; rows of floats come back."""
    torch = sys.modules.get("torch")
    if torch is not None:
        out = activation_fn(torch.tensor(rows, dtype=torch.float32).reshape(len(rows), labels))
    elif numpy is not None:
        out = activation_fn(numpy.asarray(rows, dtype=numpy.float32).reshape(len(rows), labels))
    else:
        out = activation_fn([list(row) for row in rows])
    out = out.tolist() if hasattr(out, "tolist") else out
    try:
        result = [[float(x) for x in row] for row in out]
        ok = len(result) == len(rows) and all(len(row) == labels for row in result)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError("activation_fn must return the shape of the logits it gets, [%d, %d] "
                         "(pairs x num_labels)" % (len(rows), labels))
    return result


def _softmax(row):
    top = max(row)
    e = [math.exp(x - top) for x in row]
    total = sum(e)
    return [x / total for x in e]


class CrossEncoder(_Handle):
    """A loaded cross-encoder (.sbert file converted from a sentence-transformers CrossEncoder
    folder). Thread-safe as sbert.Model: calls borrow contexts from a bounded pool.

        with sbert.CrossEncoder("reranker.sbert") as model:
            scores = model.predict([("what is a panda?", "The giant panda is a bear.")])
            hits = model.rank("what is a panda?", passages, top_k=3, return_documents=True)
    """

    def __init__(self, path, *, max_length=None, n_threads=0, max_contexts=None,
                 use_mmap=True, prefault=True, invalid_utf8="reject", library=None):
        handle = self._load(path, True, n_threads, max_contexts, use_mmap, prefault, invalid_utf8,
                            library)
        lib = self._lib
        self.num_labels = lib.sbert_model_n_labels(handle)
        self.id2label = {i: lib.sbert_model_label(handle, i).decode("utf-8", "replace")
                         for i in range(self.num_labels)}
        self.activation_fn_name = lib.sbert_model_activation(handle).decode()
        self.model_type = lib.sbert_model_type(handle).decode()
        self._model_max_length = lib.sbert_model_max_seq_length(handle)
        self.max_length = self._model_max_length
        if max_length is not None:
            self.max_length = max_length

    # -- lifetime (as sbert.Model) ------------------------------------------------------------
    def __repr__(self):
        state = "closed" if self.closed else "num_labels=%d, max_length=%d, activation=%s" % (
            self.num_labels, self.max_length, self.activation_fn_name)
        return "sbert.CrossEncoder(%r, %s)" % (self.path, state)

    @property
    def max_length(self):
        """Tokens per pair, specials included (CrossEncoder.max_length); settable."""
        return self._max_length

    @max_length.setter
    def max_length(self, value):
        _check_type("max_length", value, (int,), "an int")
        if value < 1:
            raise ValueError("max_length must be >= 1, got %d" % value)
        self._max_length = value

    def _options(self, progress):
        opts = self._lib.sbert_rerank_default_options()
        if self._max_length != self._model_max_length:
            opts.max_length = self._max_length
        opts.progress = progress.callback
        return opts

    # -- predict ------------------------------------------------------------------------------
    def predict(self, sentences, *, batch_size=32, show_progress_bar=None, activation_fn=None,
                apply_softmax=False, convert_to_numpy=True):
        """Scores of pairs, as CrossEncoder.predict gives them: a list of pairs gives one score
        per pair (one label) or one row of num_labels scores per pair; a single pair [a, b] gives
        the first element of what [[a, b]] gives. The model's default activation is applied (its
        file records it: sigmoid for one label unless the config named another, none for
        several); activation_fn, a callable, replaces it: it gets the logits [n, num_labels] at
        once (a torch tensor when torch is imported, else a NumPy array or a list of rows) and
        returns that shape; apply_softmax turns each row of several labels into probabilities.
        With NumPy installed and convert_to_numpy true (the default): a float32 array of shape
        (n,) or (n, num_labels), so a single pair gives a numpy.float32 or a (num_labels,) array;
        else lists of floats, so a single pair gives a float or a list. The flags take a bool
        (TypeError otherwise)."""
        pairs, single = _pairs(sentences)
        self._check_batch(batch_size, show_progress_bar)
        if activation_fn is not None and not callable(activation_fn):
            raise TypeError("activation_fn must be callable or None")
        _check_bool("apply_softmax", apply_softmax)
        _check_bool("convert_to_numpy", convert_to_numpy)
        raw = activation_fn is not None
        rows = self._predict(pairs, batch_size, show_progress_bar, logits=raw)
        if raw and rows:
            rows = _activate(activation_fn, rows, self.num_labels)
        if apply_softmax and self.num_labels > 1:
            rows = [_softmax(row) for row in rows]
        out = [row[0] for row in rows] if self.num_labels == 1 else rows
        if convert_to_numpy and numpy is not None:
            out = numpy.asarray(out, dtype=numpy.float32).reshape(
                (len(pairs),) if self.num_labels == 1 else (len(pairs), self.num_labels))
        # CrossEncoder.predict indexes its result: a NumPy scalar or row, not a Python float
        return out[0] if single else out

    def _check_batch(self, batch_size, show_progress_bar):
        _check_batch_size(batch_size)
        _check_bool("show_progress_bar", show_progress_bar, none_ok=True)

    def _predict(self, pairs, batch_size, show_progress_bar, logits):
        """Rows of num_labels floats per pair: the logits, or the scores."""
        n, labels = len(pairs), self.num_labels
        pool = self._open_pool()
        if n == 0:
            return []
        a = _utf8([p[0] for p in pairs])
        b = _utf8([p[1] for p in pairs])
        c_a, c_b = (ctypes.c_char_p * n)(*a), (ctypes.c_char_p * n)(*b)
        len_a = (ctypes.c_size_t * n)(*[len(t) for t in a])
        len_b = (ctypes.c_size_t * n)(*[len(t) for t in b])
        out = array.array("f", bytes(4 * n * labels))
        out_p = (ctypes.c_float * (n * labels)).from_buffer(out)
        show = n > batch_size if show_progress_bar is None else show_progress_bar
        opts = self._options(_Progress(n, show))
        with pool.context(batch_size) as ctx:
            rc = self._lib.sbert_predict(ctx, c_a, len_a, c_b, len_b, n, ctypes.byref(opts),
                                         out_p if logits else None, None if logits else out_p,
                                         n * labels)
            self._check(rc, ctx)
        return [out[i * labels:(i + 1) * labels].tolist() for i in range(n)]

    def _rerank(self, query, documents, batch_size, show_progress_bar):
        """The scores of (query, document) for every document, through sbert_rerank."""
        n = len(documents)
        pool = self._open_pool()
        if n == 0:
            return []
        docs = _utf8(documents)
        c_docs = (ctypes.c_char_p * n)(*docs)
        c_lens = (ctypes.c_size_t * n)(*[len(d) for d in docs])
        scores = (ctypes.c_float * n)()
        show = n > batch_size if show_progress_bar is None else show_progress_bar
        opts = self._options(_Progress(n, show))
        with pool.context(batch_size) as ctx:
            rc = self._lib.sbert_rerank(ctx, query.encode("utf-8", "surrogatepass"), c_docs, c_lens,
                                        n, ctypes.byref(opts), scores, n, None, 0)
            self._check(rc, ctx)
        return list(scores)

    # -- rank ---------------------------------------------------------------------------------
    def rank(self, query, documents, *, top_k=None, return_documents=False, batch_size=32,
             show_progress_bar=None, activation_fn=None):
        """CrossEncoder.rank: the documents scored against the query, best first, as dicts
        {"corpus_id": index, "score": float} (and "text" with return_documents), the top_k best
        when top_k is given. Needs a one-label model."""
        _check_type("query", query, (str,), "a str")
        if isinstance(documents, (str, bytes)) or not hasattr(documents, "__iter__"):
            raise TypeError("documents must be a list of str, not %s" % type(documents).__name__)
        documents = list(documents)
        for i, d in enumerate(documents):
            if not isinstance(d, str):
                raise TypeError("documents[%d] is %s; every document must be a str"
                                % (i, type(d).__name__))
        if top_k is not None:
            _check_type("top_k", top_k, (int,), "an int or None")
            if top_k < 1:
                raise ValueError("top_k must be >= 1, got %d" % top_k)
        if self.num_labels != 1:
            raise ValueError("rank needs a model with one label; this one has %d (%s): use "
                             "predict" % (self.num_labels, ", ".join(self.id2label.values())))
        _check_bool("return_documents", return_documents)
        self._check_batch(batch_size, show_progress_bar)
        # sbert_rerank tokenizes the query once but reads it up to a NUL; predict takes lengths
        if activation_fn is None and "\0" not in query:
            scores = self._rerank(query, documents, batch_size, show_progress_bar)
        else:
            scores = self.predict([(query, d) for d in documents], batch_size=batch_size,
                                  show_progress_bar=show_progress_bar,
                                  activation_fn=activation_fn, convert_to_numpy=False)
        order = sorted(range(len(documents)), key=lambda i: -scores[i])  # stable: ties by index
        hits = [{"corpus_id": i, "score": float(scores[i])} for i in order[:top_k]]
        if return_documents:
            for h in hits:
                h["text"] = documents[h["corpus_id"]]
        return hits
