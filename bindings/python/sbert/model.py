"""sbert.Model: a .sbert file with the interface of sentence_transformers.SentenceTransformer."""
import array
import ctypes
import os
import sys

from . import _capi, _library, _quantize
from ._pool import ContextPool
from ._quantize import numpy

_OUTPUT_VALUES = ("sentence_embedding", "token_embeddings")


class SbertError(RuntimeError):
    """A libsbert call failed. .code is the sbert_status (a negative int, sbert.h), .name its
    name (sbert_strerror), str() the library's detailed message."""

    def __init__(self, code, message, name=None):
        super().__init__(message)
        self.code = code
        self.name = name


def _check_type(name, value, types, what):
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise TypeError("%s must be %s, not %s" % (name, what, type(value).__name__))


# Python's bool, and NumPy's when NumPy is here (what a comparison of arrays' elements gives)
_BOOLS = (bool,) if numpy is None else (bool, numpy.bool_)


def _check_bool(name, value, none_ok=False):
    # Only a bool: any object has a truth value, so use_mmap="no" would silently mean True.
    if not (none_ok and value is None):
        _check_type(name, value, _BOOLS, "a bool or None" if none_ok else "a bool")


def _nul_terminated(name, data):
    """data (bytes), checked for a char * the library reads up to its first NUL: an embedded NUL
    would silently cut the argument there (another file loaded, another prompt used)."""
    if b"\0" in data:
        raise ValueError("embedded null byte in %s" % name)
    return data


def _c_text(name, value):
    """A str option the library takes as NUL-terminated UTF-8 (prompt, prompt_name). Unlike the
    sentences, which invalid_utf8 governs and which carry their lengths, it must be valid UTF-8
    (a lone surrogate is not) with no NUL: ValueError naming it otherwise."""
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError("%s is not valid UTF-8: lone surrogate %r at index %d"
                         % (name, value[e.start], e.start)) from None
    return _nul_terminated(name, data)


def _check_prompts(prompt_name, prompt):
    for name, value in (("prompt_name", prompt_name), ("prompt", prompt)):
        if value is not None:
            _check_type(name, value, (str,), "a str or None")
            _c_text(name, value)


def _check_batch_size(batch_size):
    _check_type("batch_size", batch_size, (int,), "an int")
    if not 1 <= batch_size <= _capi.SBERT_MAX_BATCH_SIZE:
        raise ValueError("batch_size must be from 1 to %d (SBERT_MAX_BATCH_SIZE), got %d"
                         % (_capi.SBERT_MAX_BATCH_SIZE, batch_size))


def _chunking(chunk):
    """chunk= of encode(): None (texts truncated to max_seq_length), WINDOW or (WINDOW, STRIDE)
    in tokens -> (window, stride), 0 meaning off / adjacent windows."""
    if chunk is None:
        return 0, 0
    parts = chunk if isinstance(chunk, tuple) else (chunk,)
    if not 1 <= len(parts) <= 2:
        raise ValueError("chunk must be WINDOW or (WINDOW, STRIDE), got %r" % (chunk,))
    for name, value in zip(("chunk window", "chunk stride"), parts):
        _check_type(name, value, (int,), "an int")
        if value < 0:
            raise ValueError("%s must be >= 0, got %d" % (name, value))
    return parts[0], parts[1] if len(parts) == 2 else 0


def _sentences(sentences):
    """(list of str, was_a_single_str). TypeError names the first item that is not a str."""
    if isinstance(sentences, str):
        return [sentences], True
    if isinstance(sentences, (bytes, bytearray, dict, set, frozenset)) or \
            not hasattr(sentences, "__len__") or not hasattr(sentences, "__iter__"):
        raise TypeError("sentences must be a str or a list of str, not %s"
                        % type(sentences).__name__)
    texts = list(sentences)
    for i, s in enumerate(texts):
        if not isinstance(s, str):
            raise TypeError("sentences[%d] is %s; every sentence must be a str"
                            % (i, type(s).__name__))
    return texts, False


def _utf8(texts):
    # Lone surrogates are kept (surrogatepass) so that the library, not the codec, reports them
    # as invalid UTF-8 with its message.
    return [t.encode("utf-8", "surrogatepass") for t in texts]


class _Progress:
    """Texts done / total on standard error, only when it is a terminal."""

    def __init__(self, total, enabled):
        self.total = total
        self.enabled = enabled and sys.stderr is not None and sys.stderr.isatty()
        self.callback = _capi.PROGRESS_FN(self._update) if self.enabled else _capi.PROGRESS_FN()

    def _update(self, done, total, _user):  # with chunk=, the library counts windows
        sys.stderr.write("\rEncoding: %d/%d texts" % (done, total))
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


class _Handle:
    """What Model and CrossEncoder share: the model handle, its pool of contexts, and their
    lifetime (close, with, use after close)."""

    def close(self):
        """Waits for the calls in flight, then frees the contexts and the model. Using the
        model afterwards raises sbert.ClosedError (a ValueError). Idempotent."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.sbert_model_free(handle)

    @property
    def closed(self):
        return self._handle is None

    def __enter__(self):
        self._open_pool()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def _open_pool(self):
        pool = self._pool
        if pool is None:
            from ._pool import ClosedError
            raise ClosedError("this %s is closed" % type(self).__name__)
        pool.check_open()
        return pool

    def _load(self, path, cross_encoder, n_threads, max_contexts, use_mmap, prefault, invalid_utf8,
              library):
        """Checks the arguments Model and CrossEncoder share, loads the file, and refuses a model
        of the other kind (cross_encoder: whether this class scores pairs). Returns the handle."""
        self._handle = None
        self._pool = None
        _check_type("path", path, (str, bytes, os.PathLike), "a path (str or os.PathLike)")
        _check_type("n_threads", n_threads, (int,), "an int")
        if max_contexts is None:
            max_contexts = os.cpu_count() or 1
        _check_type("max_contexts", max_contexts, (int,), "an int")
        if max_contexts < 1:
            raise ValueError("max_contexts must be >= 1, got %d" % max_contexts)
        if not 0 <= n_threads <= _capi.SBERT_MAX_THREADS:
            raise ValueError("n_threads must be from 0 (the cores this process may use) to %d "
                             "(SBERT_MAX_THREADS), got %d" % (_capi.SBERT_MAX_THREADS, n_threads))
        if invalid_utf8 not in ("reject", "replace"):
            raise ValueError("invalid_utf8 must be 'reject' or 'replace'")
        _check_bool("use_mmap", use_mmap)
        _check_bool("prefault", prefault)
        c_path = _nul_terminated("path", os.fsencode(path))
        self._lib, self.library_path = _library.load(library)
        lib = self._lib
        params = lib.sbert_model_default_params()
        params.use_mmap, params.prefault = int(use_mmap), int(prefault)
        handle, err = ctypes.c_void_p(), ctypes.create_string_buffer(1024)
        rc = lib.sbert_model_load(c_path, ctypes.byref(params), ctypes.byref(handle), err,
                                  len(err))
        if rc != _capi.SBERT_OK:
            raise SbertError(rc, err.value.decode("utf-8", "replace"), self._status_name(rc))
        self._handle = handle
        self.path = os.fspath(path)
        if bool(lib.sbert_model_n_labels(handle)) != cross_encoder:
            self.close()
            raise SbertError(_capi.SBERT_ERR_MODEL_KIND, self.path + (
                " is an embedding model, not a cross-encoder: open it with sbert.Model"
                if cross_encoder else " is a cross-encoder (it scores pairs of texts): open it "
                "with sbert.CrossEncoder"), self._status_name(_capi.SBERT_ERR_MODEL_KIND))
        self._n_threads = n_threads
        self._utf8 = _capi.SBERT_UTF8_REPLACE if invalid_utf8 == "replace" else _capi.SBERT_UTF8_REJECT
        self._pool = ContextPool(self._create_context, lib.sbert_context_free, max_contexts)
        return handle

    def _status_name(self, rc):
        return self._lib.sbert_strerror(rc).decode()

    def _check(self, rc, ctx):
        if rc != _capi.SBERT_OK:
            message = self._lib.sbert_context_errmsg(ctx).decode("utf-8", "replace")
            raise SbertError(rc, message or self._status_name(rc), self._status_name(rc))

    def _create_context(self, batch_size):
        params = self._lib.sbert_context_default_params()
        params.n_threads, params.batch_size, params.utf8 = self._n_threads, batch_size, self._utf8
        ctx, err = ctypes.c_void_p(), ctypes.create_string_buffer(512)
        rc = self._lib.sbert_context_create(self._handle, ctypes.byref(params), ctypes.byref(ctx),
                                            err, len(err))
        if rc != _capi.SBERT_OK:
            raise SbertError(rc, "cannot create a context: %s" % err.value.decode("utf-8", "replace"),
                             self._status_name(rc))
        return ctx


class Model(_Handle):
    """A loaded .sbert model. Safe to share between threads: each call borrows a context from a
    bounded pool (at most max_contexts, default the number of CPUs), so any number of threads,
    short-lived or not, use a bounded amount of memory.

        with sbert.Model("models/ko-small-f16.sbert") as model:
            emb = model.encode(["한 남자가 음식을 먹고 있다.", "한 남자가 말하고 있다."])
            print(model.similarity(emb, emb))
    """

    def __init__(self, path, *, truncate_dim=None, n_threads=0, max_contexts=None,
                 use_mmap=True, prefault=True, invalid_utf8="reject", library=None):
        handle = self._load(path, False, n_threads, max_contexts, use_mmap, prefault, invalid_utf8,
                            library)
        lib = self._lib
        self._dim = lib.sbert_model_dim(handle)
        self._hidden = lib.sbert_model_hidden_size(handle)
        self._model_max_seq_length = lib.sbert_model_max_seq_length(handle)
        self._max_seq_length = self._model_max_seq_length
        self.model_type = lib.sbert_model_type(handle).decode()
        self.model_name = (lib.sbert_model_name(handle) or b"").decode("utf-8", "replace")
        self.prompts = {
            lib.sbert_model_prompt_name(handle, i).decode(): lib.sbert_model_prompt_text(handle, i)
            .decode() for i in range(lib.sbert_model_n_prompts(handle))}
        self._similarity_fn = lib.sbert_model_similarity(handle)
        self.truncate_dim = None
        if truncate_dim is not None:
            self.truncate_dim = self._check_truncate_dim(truncate_dim)

    # -- lifetime -----------------------------------------------------------------------------
    def __repr__(self):
        state = "closed" if self.closed else "dim=%d, max_seq_length=%d, similarity=%s" % (
            self._dim, self._max_seq_length, self.similarity_fn_name)
        return "sbert.Model(%r, %s)" % (self.path, state)

    @property
    def contexts_alive(self):
        """How many contexts exist now (at most max_contexts)."""
        return 0 if self._pool is None else self._pool.alive

    # -- properties ---------------------------------------------------------------------------
    @property
    def max_seq_length(self):
        """Tokens per text, specials included; longer texts are truncated. Settable (lower it to
        truncate more), as on SentenceTransformer."""
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value):
        _check_type("max_seq_length", value, (int,), "an int")
        if value < 2:
            raise ValueError("max_seq_length must be at least 2 (the special tokens)")
        self._max_seq_length = value

    def get_max_seq_length(self):
        return self._max_seq_length

    def get_sentence_embedding_dimension(self):
        """The length of the vectors encode() returns (truncate_dim when it is set)."""
        return self._dim if self.truncate_dim is None else min(self.truncate_dim, self._dim)

    @property
    def similarity_fn_name(self):
        """The model's similarity function, from its file ('cosine', 'dot', 'euclidean',
        'manhattan'); settable, as on SentenceTransformer."""
        return _capi.SIMILARITY_NAMES[self._similarity_fn]

    @similarity_fn_name.setter
    def similarity_fn_name(self, name):
        codes = {v: k for k, v in _capi.SIMILARITY_NAMES.items()}
        if name not in codes:
            raise ValueError("similarity_fn_name must be one of %s" % ", ".join(codes))
        self._similarity_fn = codes[name]

    def _check_truncate_dim(self, truncate_dim):
        _check_type("truncate_dim", truncate_dim, (int,), "an int or None")
        if truncate_dim < 1:
            raise ValueError("truncate_dim must be >= 1, got %d" % truncate_dim)
        return truncate_dim

    # -- encode -------------------------------------------------------------------------------
    def encode(self, sentences, *, prompt_name=None, prompt=None, batch_size=32,
               show_progress_bar=None, output_value="sentence_embedding", precision="float32",
               convert_to_numpy=True, normalize_embeddings=False, truncate_dim=None, chunk=None):
        """Embeddings of sentences, as SentenceTransformer.encode gives them.

        A str gives one vector (1-D), a list of str a matrix with one row per sentence, in order.
        prompt_name names a prompt of the model file (model.prompts); prompt is literal text put
        before every sentence and overrides prompt_name. The library takes both NUL-terminated
        and as valid UTF-8 whatever invalid_utf8 says (it applies to the sentences), so a NUL
        character or a lone surrogate in them is a ValueError. normalize_embeddings divides each
        vector by its L2 norm. truncate_dim (else the model's) keeps the first values of each
        vector (Matryoshka), before normalizing. precision quantizes as
        sentence_transformers.quantization.quantize_embeddings does, int8/uint8 calibrated on the
        vectors of this call (see sbert.quantize_embeddings to pass ranges).
        output_value="token_embeddings" gives each sentence's last hidden state, one row per
        token. Results are NumPy arrays when NumPy is installed and convert_to_numpy is true,
        else lists. Progress goes to standard error when it is a terminal (show_progress_bar:
        None = when there is more than one batch, False = never). The flags take a bool, not any
        truth value (TypeError).
        chunk=WINDOW or (WINDOW, STRIDE) embeds texts longer than WINDOW tokens whole instead of
        truncating them: in windows of WINDOW tokens STRIDE text tokens apart (default: adjacent),
        each encoded as a text, averaged weighted by their text tokens and normalized when the
        model normalizes (sbert_encode_options.chunking); a text that fits one window gets exactly
        its unchunked vector.
        """
        texts, single = _sentences(sentences)
        _check_batch_size(batch_size)
        _check_prompts(prompt_name, prompt)
        _check_bool("normalize_embeddings", normalize_embeddings)
        _check_bool("convert_to_numpy", convert_to_numpy)
        _check_bool("show_progress_bar", show_progress_bar, none_ok=True)
        if output_value not in _OUTPUT_VALUES:
            raise ValueError("output_value must be one of %s, got %r"
                             % (", ".join(_OUTPUT_VALUES), output_value))
        chunking = _chunking(chunk)
        if chunk is not None and output_value == "token_embeddings":
            raise ValueError("chunk applies to sentence embeddings, not token_embeddings")
        _quantize.check_precision(precision)
        if truncate_dim is not None:
            truncate_dim = self._check_truncate_dim(truncate_dim)
        else:
            truncate_dim = self.truncate_dim
        as_numpy = bool(convert_to_numpy) and numpy is not None
        show = (len(texts) > batch_size) if show_progress_bar is None else show_progress_bar

        if output_value == "token_embeddings":
            out = [self._token_embeddings(t, prompt_name, prompt, batch_size, as_numpy)
                   for t in texts]
        else:
            out = self._sentence_embeddings(texts, prompt_name, prompt, batch_size, show,
                                            normalize_embeddings, truncate_dim, as_numpy,
                                            chunking)
        if precision != "float32" and texts:
            out = (_quantize._quantize_numpy if as_numpy else _quantize.quantize_lists)(
                out, precision)
        return out[0] if single else out

    def _options(self, prompt_name, prompt, normalize, progress=None, chunking=(0, 0)):
        opts = self._lib.sbert_encode_default_options()
        opts.chunking.window, opts.chunking.stride = chunking
        opts.normalize = int(bool(normalize))
        if self._max_seq_length != self._model_max_seq_length:
            opts.max_length = self._max_seq_length
        opts.prompt_name = None if prompt_name is None else _c_text("prompt_name", prompt_name)
        opts.prompt = None if prompt is None else _c_text("prompt", prompt)
        if progress is not None:
            opts.progress = progress.callback
        return opts

    def _sentence_embeddings(self, texts, prompt_name, prompt, batch_size, show, normalize,
                             truncate_dim, as_numpy, chunking):
        n, dim = len(texts), self._dim
        data = _utf8(texts)
        c_texts = (ctypes.c_char_p * max(n, 1))(*data)
        c_lens = (ctypes.c_size_t * max(n, 1))(*[len(d) for d in data])
        if as_numpy:
            out = numpy.empty((n, dim), dtype=numpy.float32)
            out_p = out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        else:
            flat = array.array("f", bytes(4 * n * dim))
            out_p = (ctypes.c_float * max(n * dim, 1)).from_buffer(flat) if n else \
                (ctypes.c_float * 1)()
        # The library normalizes the whole vector; a truncated one is normalized after the cut.
        c_normalize = normalize and truncate_dim is None
        progress = _Progress(n, show)
        opts = self._options(prompt_name, prompt, c_normalize, progress, chunking)
        if n:
            with self._open_pool().context(batch_size) as ctx:
                rc = self._lib.sbert_encode(ctx, c_texts, c_lens, n, ctypes.byref(opts), out_p,
                                            n * dim)
                self._check(rc, ctx)
        else:
            self._open_pool()
        rows = out if as_numpy else [flat[i * dim:(i + 1) * dim].tolist() for i in range(n)]
        if truncate_dim is not None:
            rows = _quantize.truncate(rows, truncate_dim)
            if normalize:
                rows = _quantize.normalize(rows)
        return rows

    def _token_embeddings(self, text, prompt_name, prompt, batch_size, as_numpy):
        data = text.encode("utf-8", "surrogatepass")
        opts = self._options(prompt_name, prompt, False)
        n_tokens = ctypes.c_size_t()
        with self._open_pool().context(batch_size) as ctx:
            capacity = self._max_seq_length * self._hidden
            while True:
                buf = (ctypes.c_float * max(capacity, 1))()
                rc = self._lib.sbert_encode_tokens(ctx, data, len(data), ctypes.byref(opts), buf,
                                                   capacity, ctypes.byref(n_tokens))
                if rc != _capi.SBERT_ERR_BUFFER_TOO_SMALL or capacity >= n_tokens.value * self._hidden:
                    break
                capacity = n_tokens.value * self._hidden
            self._check(rc, ctx)
        n, h = n_tokens.value, self._hidden
        if as_numpy:
            return numpy.ctypeslib.as_array(buf)[:n * h].reshape(n, h).copy()
        return [buf[i * h:(i + 1) * h] for i in range(n)]

    # -- tokenize -----------------------------------------------------------------------------
    def tokenize(self, texts, *, prompt_name=None, prompt=None):
        """The token ids encode() feeds the model (prompt prepended, truncated to max_seq_length,
        special tokens added): {"input_ids": [...], "attention_mask": [...]}, for a str one list
        of ids, for a list of str one list per text (not padded)."""
        items, single = _sentences(texts)
        _check_prompts(prompt_name, prompt)
        opts = self._options(prompt_name, prompt, False)
        with self._open_pool().context(32) as ctx:
            ids = [self._encode_ids(ctx, data, opts) for data in _utf8(items)]
        if single:
            return {"input_ids": ids[0], "attention_mask": [1] * len(ids[0])}
        return {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}

    def _encode_ids(self, ctx, data, opts):
        n = ctypes.c_size_t()
        capacity = self._max_seq_length
        while True:
            ids = (ctypes.c_int32 * max(capacity, 1))()
            rc = self._lib.sbert_encode_ids(ctx, data, len(data), ctypes.byref(opts), ids,
                                            capacity, ctypes.byref(n))
            if rc != _capi.SBERT_ERR_BUFFER_TOO_SMALL or capacity >= n.value:
                break
            capacity = n.value
        self._check(rc, ctx)
        return list(ids[:n.value])

    # -- similarity ---------------------------------------------------------------------------
    def similarity(self, embeddings1, embeddings2):
        """The model's similarity function (similarity_fn_name) between every row of embeddings1
        and every row of embeddings2: an [n1, n2] matrix (a vector counts as one row)."""
        self._open_pool()
        a, n_a, dim_a = _float_matrix(embeddings1, "embeddings1")
        b, n_b, dim_b = _float_matrix(embeddings2, "embeddings2")
        if dim_a != dim_b:
            raise ValueError("embeddings1 has %d dimensions, embeddings2 %d" % (dim_a, dim_b))
        out = (ctypes.c_float * max(n_a * n_b, 1))()
        rc = self._lib.sbert_similarity_matrix(self._similarity_fn, a, n_a, b, n_b, dim_a, out,
                                               n_a * n_b)
        if rc != _capi.SBERT_OK:
            raise SbertError(rc, "similarity: %s" % self._status_name(rc), self._status_name(rc))
        if numpy is not None:
            return numpy.ctypeslib.as_array(out)[:n_a * n_b].reshape(n_a, n_b).copy()
        return [out[i * n_b:(i + 1) * n_b] for i in range(n_a)]


def _float_matrix(x, name):
    """(float * pointer, rows, dim) of a vector or matrix given as NumPy or nested lists."""
    if numpy is not None and hasattr(x, "__array__"):
        m = numpy.asarray(x)
        if m.dtype.kind not in "fiu":
            raise TypeError("%s must hold numbers, not %s" % (name, m.dtype))
        m = numpy.ascontiguousarray(numpy.atleast_2d(m), dtype=numpy.float32)
        if m.ndim != 2:
            raise ValueError("%s must be a vector or a matrix, got shape %s" % (name, m.shape))
        c = (ctypes.c_float * max(m.size, 1)).from_buffer_copy(m.tobytes() or b"\0" * 4)
        return c, m.shape[0], m.shape[1]
    if not isinstance(x, (list, tuple)):
        raise TypeError("%s must be a list or an array of floats, not %s"
                        % (name, type(x).__name__))
    rows = [x] if not x or not isinstance(x[0], (list, tuple)) else x
    for r in rows:
        if not isinstance(r, (list, tuple)) or len(r) != len(rows[0]):
            raise ValueError("%s: every row must be a list of the same length" % name)
        for v in r:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise TypeError("%s must hold numbers, not %s" % (name, type(v).__name__))
    dim = len(rows[0]) if rows else 0
    flat = [v for r in rows for v in r]
    return (ctypes.c_float * max(len(flat), 1))(*flat), len(rows), dim
