"""libsbert from Python: sentence-transformers models from one .sbert file, with the interface of
sentence_transformers.SentenceTransformer (sbert.Model) and of sentence_transformers.CrossEncoder
(sbert.CrossEncoder: rerankers and NLI models).

    import sbert
    with sbert.Model("models/ko-small-f16.sbert") as model:
        embeddings = model.encode(["한 남자가 음식을 먹고 있다.", "한 남자가 말하고 있다."])
        print(model.similarity(embeddings, embeddings))

Pure ctypes over the C API (include/sbert.h); NumPy is used when it is installed. The shared
library is found through $SBERT_LIBRARY, the package folder, the build folder of the checkout,
then the system (see sbert._library).
"""
from . import _capi, _library
from ._library import LibraryNotFoundError
from ._pool import ClosedError
from ._quantize import PRECISIONS, quantize_embeddings
from .model import Model, SbertError
from .cross_encoder import CrossEncoder

__version__ = _capi.VERSION_STRING
__all__ = ["Model", "CrossEncoder", "SbertError", "ClosedError", "LibraryNotFoundError", "quantize_embeddings",
           "PRECISIONS", "version", "system_info", "library_path"]


def version(library=None):
    """The linked library's version string (sbert_version)."""
    return _library.load(library)[0].sbert_version().decode()


def system_info(library=None):
    """The kernels the library uses on this machine, e.g. 'fp32: avx512, int8: avx512-vnni,
    threads: yes' (sbert_system_info)."""
    return _library.load(library)[0].sbert_system_info().decode()


def library_path(library=None):
    """The path of the shared library the package uses."""
    return _library.load(library)[1]
