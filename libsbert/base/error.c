/* See error.h. */
#include "error.h"

#include <stdio.h>

int sb_vfail(const sb_err *err, int status, const char *fmt, va_list ap)
{
    if (err && err->msg && err->size > 0)
        vsnprintf(err->msg, err->size, fmt, ap);
    return status;
}

int sb_fail(const sb_err *err, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vfail(err, status, fmt, ap);
    va_end(ap);
    return status;
}

const char *sb_status_text(int status)
{
    switch (status) {
    case SBERT_OK: return "success";
    case SBERT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SBERT_ERR_IO: return "cannot open or read the file";
    case SBERT_ERR_NOT_A_MODEL: return "not a .sbert model file";
    case SBERT_ERR_VERSION: return "unsupported .sbert format version";
    case SBERT_ERR_TRUNCATED: return "model file is truncated";
    case SBERT_ERR_CHECKSUM: return "model file header is damaged (checksum mismatch)";
    case SBERT_ERR_CORRUPT: return "model file is corrupt";
    case SBERT_ERR_SHAPE: return "tensor shape does not match the model's hyper-parameters";
    case SBERT_ERR_UNSUPPORTED: return "unsupported model feature";
    case SBERT_ERR_NO_MEMORY: return "out of memory";
    case SBERT_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case SBERT_ERR_INVALID_UTF8: return "text is not valid UTF-8";
    case SBERT_ERR_NOT_FOUND: return "no such prompt";
    case SBERT_ERR_TOO_LARGE: return "size too large";
    case SBERT_ERR_MODEL_KIND: return "wrong kind of model (embedding model / cross-encoder)";
    default: return "unknown error";
    }
}
