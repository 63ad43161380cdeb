"""Reading and writing Hugging Face weight files with the Python standard library only.

Supported inputs: `model.safetensors`, sharded safetensors (`model.safetensors.index.json`) and
`pytorch_model.bin` in PyTorch's zip serialization (`<prefix>/data.pkl` plus one file per storage
under `<prefix>/data/`). The pickle in a `.bin` is read by an unpickler that resolves only the
handful of globals a state dict needs and refuses every other one, so a malicious file cannot run
code. Tensor bytes are read on demand: safetensors files are memory-mapped, zip members are read
when a tensor is used. read_json reads the JSON files that sit beside the weights.
"""

import collections
import json
import mmap
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from math import prod
from typing import Callable

# Bytes per element of every safetensors dtype, so that data_offsets can be checked even for
# tensors nobody converts (such as the int64 `embeddings.position_ids` buffer).
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}


class InputError(Exception):
    """An input the tools cannot use; the message names the file and the problem."""


@dataclass(frozen=True)
class Tensor:
    dtype: str                  # safetensors dtype name ("F32", "F16", "BF16", "I64", ...)
    shape: tuple
    read: Callable[[], bytes]   # little-endian, row-major element bytes (any bytes-like object)


@dataclass
class Checkpoint:
    origin: str                 # the file the tensors come from, for messages
    tensors: dict               # name -> Tensor

    def tensor(self, name, shape):
        """The tensor called `name`, refused unless it is floating point and exactly `shape`."""
        t = self.tensors.get(name)
        if t is None:
            raise InputError(f"{self.origin}: tensor {name} is missing")
        if t.dtype not in ("F32", "F16", "BF16"):
            raise InputError(f"{self.origin}: tensor {name} has dtype {t.dtype}, "
                             "expected F32, F16 or BF16")
        if t.shape != tuple(shape):
            raise InputError(f"{self.origin}: tensor {name}: shape {_dims(t.shape)}, "
                             f"expected {_dims(shape)}")
        return t


def read_json(path, required=True, expected=dict, hint=""):
    """A JSON file's content, `expected()` (empty) when an optional file is absent."""
    try:
        with open(path, "rb") as f:
            value = json.load(f)
    except FileNotFoundError:
        if required:
            raise InputError(f"{path}: not found{hint}") from None
        return expected()
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(value, expected):
        raise InputError(f"{path}: expected a JSON {'object' if expected is dict else 'array'}")
    return value


def _dims(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def load_checkpoint(directory):
    """The weights of a model directory, from the first of the supported files it holds."""
    for name, reader in (("model.safetensors", read_safetensors),
                         ("model.safetensors.index.json", read_sharded_safetensors),
                         ("pytorch_model.bin", read_pytorch_zip)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return Checkpoint(path, reader(path))
    raise InputError(f"{directory}: no weights found (expected model.safetensors, "
                     "model.safetensors.index.json or pytorch_model.bin)")


# --- safetensors: u64 header length N, N bytes of JSON, then the data block -------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise InputError(f"{path}: truncated ({size} bytes): no safetensors header")
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > size - 8:
            raise InputError(f"{path}: header length {header_len} runs past the end of the "
                             f"file ({size} bytes); the file is truncated or not safetensors")
        try:
            header = json.loads(f.read(header_len))
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: the header is not valid JSON ({e})") from None
        data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))[8 + header_len:]
    if not isinstance(header, dict):
        raise InputError(f"{path}: the header is not a JSON object")
    return {name: _safetensors_entry(path, name, entry, data)
            for name, entry in header.items() if name != "__metadata__"}


def _safetensors_entry(path, name, entry, data):
    try:
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        ok = (isinstance(dtype, str) and all(_is_count(d) for d in shape)
              and _is_count(begin) and _is_count(end))
    except (TypeError, KeyError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{path}: tensor {name}: malformed header entry {json.dumps(entry)}")
    if not begin <= end <= len(data):
        raise InputError(f"{path}: tensor {name}: data_offsets [{begin}, {end}] outside the "
                         f"data block ({len(data)} bytes)")
    if dtype in DTYPE_SIZES and end - begin != prod(shape) * DTYPE_SIZES[dtype]:
        raise InputError(f"{path}: tensor {name}: data_offsets hold {end - begin} bytes, "
                         f"but {dtype} {_dims(shape)} needs {prod(shape) * DTYPE_SIZES[dtype]}")
    return Tensor(dtype, tuple(shape), lambda: data[begin:end])


def _is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def read_sharded_safetensors(index_path):
    weight_map = read_json(index_path).get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(f, str) for f in weight_map.values()):
        raise InputError(f"{index_path}: no weight_map of tensor names to file names")
    shards = sorted(set(weight_map.values()))
    tensors = {}
    for shard in shards:
        tensors.update(read_safetensors(os.path.join(os.path.dirname(index_path), shard)))
    return tensors


def write_safetensors(path, tensors):
    """Write `tensors` (name -> (dtype, shape, bytes)) in name order, as the safetensors library
    lays them out: the header is padded with spaces to a multiple of 8 bytes."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in sorted(tensors):
            f.write(tensors[name][2])


# --- pytorch_model.bin: PyTorch's zip serialization ---------------------------------------------

# torch.save pickles each storage as a persistent id naming its class, e.g. torch.FloatStorage.
_STORAGE_DTYPES = {
    "FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16",
    "DoubleStorage": "F64", "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16",
    "CharStorage": "I8", "ByteStorage": "U8", "BoolStorage": "BOOL",
}


@dataclass(frozen=True)
class _Storage:
    dtype: str
    numel: int
    read: Callable[[], bytes]


class _StateDictUnpickler(pickle.Unpickler):
    """Rebuilds a state dict as {name: Tensor} without importing torch or anything else.

    find_class is the only way a pickle can reach a Python object, so answering it from a fixed
    table (storage classes become dtype names, the rebuild functions become ours) means no
    code from the file can run.
    """

    def __init__(self, archive, prefix, path):
        super().__init__(archive.open(prefix + "data.pkl"))
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        allowed = {
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("collections", "OrderedDict"): collections.OrderedDict,
        }
        if (module, name) not in allowed:
            raise InputError(
                f"{self.path}: refusing to unpickle the global {module}.{name}: a state dict "
                "holds only tensors, so this file may be malicious (use a model.safetensors, or "
                "re-save the weights as safetensors where the file is trusted)")
        return allowed[module, name]

    def persistent_load(self, pid):
        kind, dtype, key, _location, numel = pid
        member = f"{self.prefix}data/{key}"
        size = self.archive.getinfo(member).file_size
        if kind != "storage" or size != numel * DTYPE_SIZES[dtype]:
            raise InputError(f"{self.path}: storage {key} does not match its description")
        return _Storage(dtype, numel, lambda: self.archive.read(member))

    def _rebuild_tensor(self, storage, offset, size, stride, *_):  # _: requires_grad, hooks...
        numel = prod(size)
        if offset + numel > storage.numel:
            raise InputError(f"{self.path}: a tensor runs past the end of its storage")
        if not _is_contiguous(size, stride):
            raise InputError(f"{self.path}: a tensor of shape {_dims(size)} is not contiguous "
                             f"(strides {_dims(stride)}); save it with .contiguous()")
        item = DTYPE_SIZES[storage.dtype]
        return Tensor(storage.dtype, tuple(size),
                      lambda: storage.read()[offset * item:(offset + numel) * item])


def _rebuild_parameter(data, _requires_grad, _backward_hooks):
    return data


def _is_contiguous(size, stride):
    expected = 1
    for n, s in reversed(list(zip(size, stride))):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def read_pytorch_zip(path):
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a zip archive; the legacy (PyTorch < 1.6) format is not "
                         "supported: re-save it with a recent torch.save or as safetensors")
    archive = zipfile.ZipFile(path)
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise InputError(f"{path}: expected one <prefix>/data.pkl in the zip, found {len(pickles)}")
    prefix = pickles[0][:-len("data.pkl")]
    byteorder = prefix + "byteorder"  # absent in files from PyTorch < 2.1: little-endian
    if byteorder in archive.namelist() and archive.read(byteorder) != b"little":
        raise InputError(f"{path}: big-endian tensors are not supported")
    try:
        state = _StateDictUnpickler(archive, prefix, path).load()
    except InputError:
        raise
    except Exception as e:  # any failure of the untrusted pickle is a malformed file
        raise InputError(f"{path}: cannot read the pickled state dict "
                         f"({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or \
            not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise InputError(f"{path}: the pickle is not a state dict of tensors")
    return dict(state)
