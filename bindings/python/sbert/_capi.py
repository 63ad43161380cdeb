"""The C API of include/sbert.h for ctypes, in one place: version, constants, structs, signatures.

Nothing else in the package writes a status number, a flag or a struct layout; they all come from
here. tests/test_python_package.py parses include/sbert.h and checks every value, every struct
field and every SBERT_API function below against it, so a change to the header that is not made
here fails the tests instead of corrupting memory.
"""
import ctypes

# The library version this binding was written against (SBERT_VERSION_*). A library of another
# major version, or of an older minor version (which lacks calls bound below), is refused; before
# 1.0 any other minor version is (each may change the API: _library._check_version).
VERSION_MAJOR = 0
VERSION_MINOR = 3
VERSION_PATCH = 3
VERSION_STRING = "%d.%d.%d" % (VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH)

# enum sbert_status
SBERT_OK = 0
SBERT_ERR_INVALID_ARGUMENT = -1
SBERT_ERR_IO = -2
SBERT_ERR_NOT_A_MODEL = -3
SBERT_ERR_VERSION = -4
SBERT_ERR_TRUNCATED = -5
SBERT_ERR_CHECKSUM = -6
SBERT_ERR_CORRUPT = -7
SBERT_ERR_SHAPE = -8
SBERT_ERR_UNSUPPORTED = -9
SBERT_ERR_NO_MEMORY = -10
SBERT_ERR_BUFFER_TOO_SMALL = -11
SBERT_ERR_INVALID_UTF8 = -12
SBERT_ERR_NOT_FOUND = -13
SBERT_ERR_TOO_LARGE = -14
SBERT_ERR_MODEL_KIND = -15

# enum sbert_similarity, with sentence-transformers' SimilarityFunction names
SBERT_SIMILARITY_COSINE = 0
SBERT_SIMILARITY_DOT = 1
SBERT_SIMILARITY_EUCLIDEAN = 2
SBERT_SIMILARITY_MANHATTAN = 3
SIMILARITY_NAMES = {
    SBERT_SIMILARITY_COSINE: "cosine",
    SBERT_SIMILARITY_DOT: "dot",
    SBERT_SIMILARITY_EUCLIDEAN: "euclidean",
    SBERT_SIMILARITY_MANHATTAN: "manhattan",
}

# the largest sbert_context_params.batch_size and n_threads
SBERT_MAX_BATCH_SIZE = 4096
SBERT_MAX_THREADS = 512

# enum sbert_utf8_policy
SBERT_UTF8_REJECT = 0
SBERT_UTF8_REPLACE = 1

# sbert_tokenize flags
SBERT_TOKENIZE_DEFAULT = 0
SBERT_TOKENIZE_NO_SPECIAL = 1
SBERT_TOKENIZE_NO_TRUNCATE = 2
SBERT_TOKENIZE_RAW = 4


class ModelParams(ctypes.Structure):
    """struct sbert_model_params"""
    _fields_ = [
        ("use_mmap", ctypes.c_int),
        ("prefault", ctypes.c_int),
    ]


class ContextParams(ctypes.Structure):
    """struct sbert_context_params"""
    _fields_ = [
        ("n_threads", ctypes.c_int),
        ("batch_size", ctypes.c_size_t),
        ("utf8", ctypes.c_int),  # sbert_utf8_policy (an enum is an int in the C ABI)
    ]


PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p)


class Chunking(ctypes.Structure):
    """struct sbert_chunking"""
    _fields_ = [
        ("window", ctypes.c_size_t),
        ("stride", ctypes.c_size_t),
    ]


class EncodeOptions(ctypes.Structure):
    """struct sbert_encode_options"""
    _fields_ = [
        ("normalize", ctypes.c_int),
        ("max_length", ctypes.c_size_t),
        ("prompt_name", ctypes.c_char_p),
        ("prompt", ctypes.c_char_p),
        ("progress", PROGRESS_FN),
        ("progress_user_data", ctypes.c_void_p),
        ("chunking", Chunking),
    ]


class RerankOptions(ctypes.Structure):
    """struct sbert_rerank_options"""
    _fields_ = [
        ("max_length", ctypes.c_size_t),
        ("progress", PROGRESS_FN),
        ("progress_user_data", ctypes.c_void_p),
    ]


_p = ctypes.c_void_p           # opaque handles: sbert_model *, sbert_context *
_size = ctypes.c_size_t
_size_p = ctypes.POINTER(ctypes.c_size_t)
_float_p = ctypes.POINTER(ctypes.c_float)
_str = ctypes.c_char_p
_int = ctypes.c_int

# Every SBERT_API function: name -> (result type, argument types).
SIGNATURES = {
    "sbert_version": (_str, []),
    "sbert_format_version": (_int, []),
    "sbert_system_info": (_str, []),
    "sbert_strerror": (_str, [_int]),
    "sbert_model_default_params": (ModelParams, []),
    "sbert_model_load": (_int, [_str, ctypes.POINTER(ModelParams), ctypes.POINTER(_p), _str,
                                _size]),
    "sbert_model_load_from_memory": (_int, [_p, _size, ctypes.POINTER(_p), _str, _size]),
    "sbert_model_free": (None, [_p]),
    "sbert_model_dim": (_size, [_p]),
    "sbert_model_hidden_size": (_size, [_p]),
    "sbert_model_max_seq_length": (_size, [_p]),
    "sbert_model_vocab_size": (_size, [_p]),
    "sbert_model_type": (_str, [_p]),
    "sbert_model_name": (_str, [_p]),
    "sbert_model_similarity": (_int, [_p]),
    "sbert_model_n_prompts": (_size, [_p]),
    "sbert_model_prompt_name": (_str, [_p, _size]),
    "sbert_model_prompt_text": (_str, [_p, _size]),
    "sbert_context_default_params": (ContextParams, []),
    "sbert_context_create": (_int, [_p, ctypes.POINTER(ContextParams), ctypes.POINTER(_p), _str,
                                     _size]),
    "sbert_context_free": (None, [_p]),
    "sbert_context_errmsg": (_str, [_p]),
    "sbert_context_memory": (_size, [_p, ctypes.POINTER(ContextParams), _size]),
    "sbert_tokenize": (_int, [_p, _str, _size, _int, ctypes.POINTER(ctypes.c_int32), _size,
                              _size_p]),
    "sbert_encode_default_options": (EncodeOptions, []),
    "sbert_encode_ids": (_int, [_p, _str, _size, ctypes.POINTER(EncodeOptions),
                                ctypes.POINTER(ctypes.c_int32), _size, _size_p]),
    "sbert_encode": (_int, [_p, ctypes.POINTER(_str), _size_p, _size,
                            ctypes.POINTER(EncodeOptions), _float_p, _size]),
    "sbert_encode_tokens": (_int, [_p, _str, _size, ctypes.POINTER(EncodeOptions), _float_p,
                                   _size, _size_p]),
    "sbert_encode_from_ids": (_int, [_p, ctypes.POINTER(ctypes.c_int32), _size,
                                     ctypes.POINTER(EncodeOptions), _float_p, _size]),
    "sbert_cosine": (ctypes.c_float, [_float_p, _float_p, _size]),
    "sbert_dot": (ctypes.c_float, [_float_p, _float_p, _size]),
    "sbert_similarity_matrix": (_int, [_int, _float_p, _size, _float_p, _size, _size, _float_p,
                                       _size]),
    "sbert_model_n_labels": (_size, [_p]),
    "sbert_model_label": (_str, [_p, _size]),
    "sbert_model_activation": (_str, [_p]),
    "sbert_rerank_default_options": (RerankOptions, []),
    "sbert_tokenize_pair": (_int, [_p, _str, _size, _str, _size, _size,
                                   ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_int32),
                                   _size, _size_p]),
    "sbert_predict": (_int, [_p, ctypes.POINTER(_str), _size_p, ctypes.POINTER(_str), _size_p,
                             _size, ctypes.POINTER(RerankOptions), _float_p, _float_p, _size]),
    "sbert_rerank": (_int, [_p, _str, ctypes.POINTER(_str), _size_p, _size,
                            ctypes.POINTER(RerankOptions), _float_p, _size, _size_p, _size]),
}


def bind(lib):
    """Sets restype and argtypes of every call on a loaded CDLL; returns it."""
    for name, (restype, argtypes) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib
