"""pip install --no-build-isolation bindings/python (offline, with the system's setuptools).

The package is pure Python (ctypes); the shared library is copied into it when one is found:
$SBERT_LIBRARY, else the build/ folder of this checkout (run `make` first). Without one the package
still installs, and finds the library at run time on the system's library path.
"""
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
CAPI = os.path.join(HERE, "sbert", "_capi.py")


def version():
    text = open(CAPI, encoding="utf-8").read()
    parts = [re.search(r"^VERSION_%s = (\d+)$" % p, text, re.M).group(1)
             for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


def shared_library():
    names = ("libsbert.so", "libsbert.dylib", "sbert.dll")
    if os.environ.get("SBERT_LIBRARY"):
        return os.environ["SBERT_LIBRARY"]
    for name in names:
        path = os.path.join(HERE, "..", "..", "build", name)
        if os.path.exists(path):
            return path
    return None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        lib = shared_library()
        if lib:
            target = os.path.join(self.build_lib, "sbert", os.path.basename(lib))
            print("copying %s -> %s" % (lib, target))
            shutil.copyfile(lib, target)
        else:
            print("warning: no libsbert shared library found (run `make` first or set "
                  "SBERT_LIBRARY); the package will look for it on the system at run time")


setup(
    name="sbert",
    version=version(),
    description="sentence-transformers models in plain C (libsbert), with the SentenceTransformer "
                "interface",
    packages=["sbert"],
    python_requires=">=3.7",
    extras_require={"numpy": ["numpy"]},
    cmdclass={"build_py": BuildPyWithLibrary},
    zip_safe=False,
)
