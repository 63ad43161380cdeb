"""libsbert from Python through ctypes: no compiler, no dependencies beyond the shared library.

    from sbert import Model
    model = Model("ko-sroberta.sbert")            # build/libsbert.so is found next to the repo
    vectors = model.encode(["첫 번째 문장", "두 번째 문장"], normalize=True)
    print(model.dim, model.similarity(vectors[0], vectors[1]))

encode() returns a list of lists of floats, or a NumPy array when NumPy is installed and
as_numpy=True. Errors raise SbertError with the library's detailed message. A Model is safe to
share between threads: each thread gets its own context (per-thread state, as sbert.h requires).
"""
import ctypes
import os
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))
_DEFAULT_LIB = os.path.join(_HERE, "..", "..", "build", "libsbert.so")


class SbertError(RuntimeError):
    """A libsbert call failed; .code is the sbert_status value."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _load_library(path):
    lib = ctypes.CDLL(path)
    c_size_p = ctypes.POINTER(ctypes.c_size_t)
    signatures = {
        "sbert_version": (ctypes.c_char_p, []),
        "sbert_system_info": (ctypes.c_char_p, []),
        "sbert_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "sbert_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p,
                                            ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                            ctypes.c_size_t]),
        "sbert_model_free": (None, [ctypes.c_void_p]),
        "sbert_model_dim": (ctypes.c_size_t, [ctypes.c_void_p]),
        "sbert_model_max_seq_length": (ctypes.c_size_t, [ctypes.c_void_p]),
        "sbert_model_type": (ctypes.c_char_p, [ctypes.c_void_p]),
        "sbert_context_create": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.POINTER(ctypes.c_void_p)]),
        "sbert_context_free": (None, [ctypes.c_void_p]),
        "sbert_context_errmsg": (ctypes.c_char_p, [ctypes.c_void_p]),
        "sbert_tokenize": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                          ctypes.c_int, ctypes.POINTER(ctypes.c_int32),
                                          ctypes.c_size_t, c_size_p]),
        "sbert_encode": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), c_size_p,
                                        ctypes.c_size_t, ctypes.c_void_p,
                                        ctypes.POINTER(ctypes.c_float), ctypes.c_size_t]),
        "sbert_cosine": (ctypes.c_float, [ctypes.POINTER(ctypes.c_float),
                                          ctypes.POINTER(ctypes.c_float), ctypes.c_size_t]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


class Model:
    """A loaded .sbert model (immutable, shared by threads)."""

    def __init__(self, path, library=None):
        self._lib = _load_library(library or os.environ.get("SBERT_LIBRARY", _DEFAULT_LIB))
        self._handle = ctypes.c_void_p()
        err = ctypes.create_string_buffer(512)
        rc = self._lib.sbert_model_load(os.fsencode(path), None, ctypes.byref(self._handle),
                                        err, len(err))
        if rc != 0:
            raise SbertError(rc, err.value.decode("utf-8", "replace"))
        self.dim = self._lib.sbert_model_dim(self._handle)
        self.max_seq_length = self._lib.sbert_model_max_seq_length(self._handle)
        self.model_type = self._lib.sbert_model_type(self._handle).decode()
        self._local = threading.local()
        self._contexts = []
        self._lock = threading.Lock()

    def _context(self):
        ctx = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = ctypes.c_void_p()
            rc = self._lib.sbert_context_create(self._handle, None, ctypes.byref(ctx))
            if rc != 0:
                raise SbertError(rc, self._lib.sbert_strerror(rc).decode())
            self._local.ctx = ctx
            with self._lock:
                self._contexts.append(ctx)
        return ctx

    def _check(self, rc, ctx):
        if rc != 0:
            message = self._lib.sbert_context_errmsg(ctx).decode("utf-8", "replace")
            raise SbertError(rc, message or self._lib.sbert_strerror(rc).decode())

    def tokenize(self, text):
        """The token ids the model is fed for text."""
        ctx, data = self._context(), text.encode("utf-8")
        n = ctypes.c_size_t()
        rc = self._lib.sbert_tokenize(ctx, data, len(data), 0, None, 0, ctypes.byref(n))
        ids = (ctypes.c_int32 * max(n.value, 1))()
        if rc == -11:  # SBERT_ERR_BUFFER_TOO_SMALL: now the buffer has the size it asked for
            rc = self._lib.sbert_tokenize(ctx, data, len(data), 0, ids, n.value, ctypes.byref(n))
        self._check(rc, ctx)
        return list(ids[: n.value])

    def encode(self, texts, normalize=False, as_numpy=False):
        """Embeddings of texts (a list of str), one row per text, in input order."""
        ctx = self._context()
        data = [t.encode("utf-8") for t in texts]
        n = len(data)
        c_texts = (ctypes.c_char_p * max(n, 1))(*data)
        c_lens = (ctypes.c_size_t * max(n, 1))(*[len(d) for d in data])
        out = (ctypes.c_float * max(n * self.dim, 1))()
        options = _EncodeOptions(normalize=1 if normalize else 0)
        rc = self._lib.sbert_encode(ctx, c_texts, c_lens, n, ctypes.byref(options), out,
                                    n * self.dim)
        self._check(rc, ctx)
        if as_numpy:
            import numpy
            return numpy.ctypeslib.as_array(out)[: n * self.dim].reshape(n, self.dim).copy()
        flat = list(out)
        return [flat[i * self.dim:(i + 1) * self.dim] for i in range(n)]

    def close(self):
        """Frees the contexts and the model (also done when the object is collected)."""
        for ctx in self._contexts:
            self._lib.sbert_context_free(ctx)
        self._contexts = []
        if self._handle:
            self._lib.sbert_model_free(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        if getattr(self, "_handle", None):
            self.close()


class _EncodeOptions(ctypes.Structure):
    """struct sbert_encode_options (include/sbert.h), field for field."""
    _fields_ = [
        ("normalize", ctypes.c_int),
        ("max_length", ctypes.c_size_t),
        ("prompt_name", ctypes.c_char_p),
        ("prompt", ctypes.c_char_p),
        ("progress", ctypes.c_void_p),
        ("progress_user_data", ctypes.c_void_p),
    ]


def version(library=None):
    return _load_library(library or _DEFAULT_LIB).sbert_version().decode()


def system_info(library=None):
    """The kernels the library uses on this machine, e.g. 'fp32: avx512, int8: avx512-vnni, ...'."""
    return _load_library(library or _DEFAULT_LIB).sbert_system_info().decode()
