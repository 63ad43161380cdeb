"""Embedding quantization and Matryoshka truncation, as sentence-transformers defines them.

quantize_embeddings (sentence_transformers.quantization.quantize_embeddings):
- "int8" / "uint8": ranges is a (2, dim) array of per-dimension [min; max]; when not given it is
  taken from calibration_embeddings, else from the embeddings themselves. starts = min,
  steps = (max - min) / 255 (float32); uint8 = trunc((x - starts) / steps), int8 =
  trunc((x - starts) / steps - 128), all arithmetic in float32.
- "binary" / "ubinary": the bits x > 0 of the whole matrix, flattened row-major and packed 8 to a
  byte, most significant bit first (numpy.packbits), then reshaped to one row per embedding;
  "binary" is each byte minus 128 as int8.
- token embeddings (a list of 2-D arrays) are quantized as one matrix of all their rows and split
  back.
Matryoshka truncation (sentence_transformers.util.truncate_embeddings): keep the first
truncate_dim values; encode() truncates before it normalizes.

Two implementations of the same definition: NumPy's (when it is installed, on float32 arrays) and
a plain-Python one that rounds every step to float32 as NumPy does (through array('f')).
"""
import array
import logging
import math

try:
    import numpy
except ImportError:  # plain lists then
    numpy = None

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
_log = logging.getLogger("sbert")


def check_precision(precision):
    if not isinstance(precision, str):
        raise TypeError("precision must be a str, one of %s; got %s"
                        % (", ".join(PRECISIONS), type(precision).__name__))
    if precision not in PRECISIONS:
        raise ValueError("precision %r is not supported; use one of %s"
                         % (precision, ", ".join(PRECISIONS)))


def quantize_embeddings(embeddings, precision, ranges=None, calibration_embeddings=None):
    """sentence_transformers.quantization.quantize_embeddings on a 2-D array (or list of rows) or
    on a list of 2-D token-embedding arrays. Returns NumPy arrays when NumPy is installed, else
    lists of ints (float32: floats)."""
    check_precision(precision)
    if numpy is not None:
        return _quantize_numpy(embeddings, precision, ranges, calibration_embeddings)
    return quantize_lists(embeddings, precision, ranges, calibration_embeddings)


def _warn_self_calibration(n, precision):
    if n < 100:
        _log.warning("Computing %s quantization buckets based on %d embedding%s. %s quantization "
                     "is more stable with `ranges` calculated from more embeddings or a "
                     "`calibration_embeddings` that can be used to calculate the buckets.",
                     precision, n, "" if n == 1 else "s", precision)


def _quantize_numpy(embeddings, precision, ranges=None, calibration_embeddings=None):
    lengths = None
    if isinstance(embeddings, list) and embeddings and getattr(embeddings[0], "ndim", 1) == 2:
        lengths = [e.shape[0] for e in embeddings]  # token embeddings
        embeddings = numpy.concatenate(embeddings)
    embeddings = numpy.asarray(embeddings)
    if embeddings.dtype in (numpy.int8, numpy.uint8):
        raise TypeError("embeddings to quantize must be float, not %s" % embeddings.dtype)
    if embeddings.ndim != 2:
        raise ValueError("embeddings to quantize must be 2-D, got shape %s" % (embeddings.shape,))
    if precision == "float32":
        out = embeddings.astype(numpy.float32)
    elif precision in ("int8", "uint8"):
        if ranges is None:
            if calibration_embeddings is not None:
                calibration = numpy.asarray(calibration_embeddings)
                ranges = numpy.vstack((calibration.min(axis=0), calibration.max(axis=0)))
            else:
                _warn_self_calibration(embeddings.shape[0], precision)
                ranges = numpy.vstack((embeddings.min(axis=0), embeddings.max(axis=0)))
        ranges = numpy.asarray(ranges)
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        with numpy.errstate(divide="ignore", invalid="ignore"):
            if precision == "uint8":
                out = ((embeddings - starts) / steps).astype(numpy.uint8)
            else:
                out = ((embeddings - starts) / steps - 128).astype(numpy.int8)
    else:
        packed = numpy.packbits(embeddings > 0).reshape(embeddings.shape[0], -1)
        out = packed if precision == "ubinary" else (packed - 128).astype(numpy.int8)
    if lengths is not None:
        return numpy.split(out, numpy.cumsum(lengths)[:-1])
    return out


def _f32(values):
    """Python floats rounded to float32, as a list."""
    return array.array("f", values).tolist()


def _c_cast(value, bits, signed):
    """What a float -> int8/uint8 cast gives in NumPy on x86-64 (a C cast through int32:
    truncation toward zero, the low byte kept; NaN and values out of int32 become 0x80000000)."""
    if math.isnan(value) or not -2.0 ** 31 <= value < 2.0 ** 31:
        i = -2 ** 31
    else:
        i = int(value)  # truncation toward zero
    i &= (1 << bits) - 1
    return i - (1 << bits) if signed and i >= 1 << (bits - 1) else i


def _rows(embeddings, what="embeddings"):
    rows = [list(r) for r in embeddings]
    if rows and any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("%s rows have different lengths" % what)
    return rows


def quantize_lists(embeddings, precision, ranges=None, calibration_embeddings=None):
    """The plain-Python implementation of quantize_embeddings (see the module comment)."""
    check_precision(precision)
    embeddings = list(embeddings)
    if embeddings and embeddings[0] and isinstance(embeddings[0][0], (list, tuple)) or (
            embeddings and hasattr(embeddings[0], "ndim") and embeddings[0].ndim == 2):
        lengths = [len(e) for e in embeddings]  # token embeddings: all their rows as one matrix
        flat = quantize_lists([r for e in embeddings for r in e], precision, ranges,
                              calibration_embeddings)
        out, at = [], 0
        for n in lengths:
            out.append(flat[at:at + n])
            at += n
        return out
    rows = [_f32(r) for r in _rows(embeddings)]
    if precision == "float32":
        return rows
    if precision in ("int8", "uint8"):
        if ranges is None:
            source = rows
            if calibration_embeddings is not None:
                source = [_f32(r) for r in _rows(calibration_embeddings, "calibration")]
            else:
                _warn_self_calibration(len(rows), precision)
            columns = list(zip(*source))
            ranges = [[min(c) for c in columns], [max(c) for c in columns]]
        starts = _f32(ranges[0])
        steps = _f32([_f32([hi - lo])[0] / 255 for lo, hi in zip(starts, _f32(ranges[1]))])
        out = []
        for r in rows:
            shifted = _f32([x - s for x, s in zip(r, starts)])
            scaled = _f32([_div(x, st) for x, st in zip(shifted, steps)])
            if precision == "uint8":
                out.append([_c_cast(v, 8, False) for v in scaled])
            else:
                out.append([_c_cast(v, 8, True) for v in _f32([v - 128 for v in scaled])])
        return out
    bits = [1 if x > 0 else 0 for r in rows for x in r]
    packed = [sum(b << (7 - k) for k, b in enumerate(bits[i:i + 8])) for i in range(0, len(bits), 8)]
    if rows and len(packed) % len(rows):
        raise ValueError("cannot reshape %d packed bytes into %d rows (numpy.packbits packs the "
                         "flattened matrix)" % (len(packed), len(rows)))
    width = len(packed) // len(rows) if rows else 0
    if precision == "binary":
        packed = [b - 128 for b in packed]
    return [packed[i * width:(i + 1) * width] for i in range(len(rows))]


def _div(x, step):
    """IEEE division as NumPy does it (x / 0 is +-inf, 0 / 0 NaN) instead of raising."""
    if step == 0.0:
        return math.nan if x == 0.0 or math.isnan(x) else math.copysign(math.inf, x)
    return x / step


def truncate(rows, truncate_dim):
    """sentence-transformers' truncate_embeddings: the first truncate_dim values of each row."""
    if truncate_dim is None:
        return rows
    return rows[..., :truncate_dim] if numpy is not None and isinstance(rows, numpy.ndarray) \
        else [r[:truncate_dim] for r in rows]


def normalize(rows):
    """torch.nn.functional.normalize(p=2, dim=1): each row divided by max(its L2 norm, 1e-12)."""
    if numpy is not None and isinstance(rows, numpy.ndarray):
        norms = numpy.sqrt((rows.astype(numpy.float32) ** 2).sum(axis=1, keepdims=True))
        return (rows / numpy.maximum(norms, numpy.float32(1e-12))).astype(numpy.float32)
    out = []
    for r in rows:
        norm = max(math.sqrt(math.fsum(x * x for x in r)), 1e-12)
        out.append(_f32([x / norm for x in r]))
    return out
