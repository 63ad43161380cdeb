"""Finding, loading and checking the shared library (libsbert.so / .dylib / sbert.dll)."""
import ctypes
import ctypes.util
import os
import sys
import threading

from . import _capi

if sys.platform == "win32":
    LIBRARY_NAME = "sbert.dll"
elif sys.platform == "darwin":
    LIBRARY_NAME = "libsbert.dylib"
else:
    LIBRARY_NAME = "libsbert.so"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# bindings/python/sbert -> the repository root, whose build/ folder `make` fills
_BUILD_DIR = os.path.join(_PACKAGE_DIR, "..", "..", "..", "build")

_lock = threading.Lock()
_loaded = {}


class LibraryNotFoundError(OSError):
    """No usable libsbert shared library was found; the message says where it looked."""


def candidates():
    """Where the library is looked for, in order: $SBERT_LIBRARY, the package folder (pip
    install copies it there), the build folder of the checkout the package sits in, then the
    system's library path."""
    found = []
    env = os.environ.get("SBERT_LIBRARY")
    if env:
        return [("SBERT_LIBRARY", env)]  # an explicit choice is never silently replaced
    found.append(("package folder", os.path.join(_PACKAGE_DIR, LIBRARY_NAME)))
    found.append(("build folder", os.path.normpath(os.path.join(_BUILD_DIR, LIBRARY_NAME))))
    found.append(("system", ctypes.util.find_library("sbert")))  # None when not installed
    return found


def load(path=None):
    """The bound, version-checked library: `path` if given, else the first candidate found."""
    with _lock:
        key = path or ""
        if key not in _loaded:
            _loaded[key] = _load(path)
        return _loaded[key]


def _load(path):
    tried = [("library argument", path)] if path else candidates()
    errors = []
    for where, candidate in tried:
        if candidate is None:
            errors.append("  %s: no libsbert on the library path" % where)
            continue
        if where != "system" and not os.path.exists(candidate):
            errors.append("  %s: %s (no such file)" % (where, candidate))
            continue
        try:
            lib = ctypes.CDLL(candidate)
        except OSError as e:
            errors.append("  %s: %s (%s)" % (where, candidate, e))
            continue
        _check_version(lib, candidate)
        return _capi.bind(lib), candidate
    raise LibraryNotFoundError(
        "libsbert shared library not found. Looked in:\n%s\n"
        "Build it with `make` in the libsbert checkout (it makes build/%s), then reinstall the "
        "package with `pip install --no-build-isolation bindings/python` (which copies it in), "
        "or set SBERT_LIBRARY=/path/to/%s." % ("\n".join(errors), LIBRARY_NAME, LIBRARY_NAME))


def _check_version(lib, path):
    try:
        fn = lib.sbert_version
    except AttributeError:
        raise LibraryNotFoundError("%s is not libsbert (it has no sbert_version)" % path)
    fn.restype = ctypes.c_char_p
    version = fn().decode()
    major, minor = (int(x) for x in version.split(".")[:2])
    # Before 1.0 each minor version may change the API (the SONAME carries it: libsbert.so.0.3).
    if major == 0:
        ok, wanted = minor == _capi.VERSION_MINOR, "0.%d.x" % _capi.VERSION_MINOR
    else:
        ok = major == _capi.VERSION_MAJOR and minor >= _capi.VERSION_MINOR
        wanted = "%d.%d or a later %d.x" % (_capi.VERSION_MAJOR, _capi.VERSION_MINOR,
                                             _capi.VERSION_MAJOR)
    if not ok:
        raise LibraryNotFoundError(
            "%s is libsbert %s; this Python package needs %s. Rebuild the library from the same "
            "checkout as the package." % (path, version, wanted))
