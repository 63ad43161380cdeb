/* One way to fail, for every layer: a status code (sbert_status, include/sbert.h) returned, and a
 * one-line message written where the caller asked for it. */
#ifndef SBERT_ERROR_H
#define SBERT_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "sbert.h" /* the status codes */

#if defined(__GNUC__)
#define SB_PRINTF(fmt_arg, first_arg) __attribute__((format(printf, fmt_arg, first_arg)))
#else
#define SB_PRINTF(fmt_arg, first_arg)
#endif

/* Where a failing call writes its message (msg may be NULL: the message is dropped). */
typedef struct {
    char *msg;
    size_t size;
} sb_err;

/* Writes the formatted message (always NUL-terminated, truncated to fit) and returns status, so a
 * check reads `return sb_fail(err, SBERT_ERR_CORRUPT, "...", ...);`. err may be NULL. */
int sb_fail(const sb_err *err, int status, const char *fmt, ...) SB_PRINTF(3, 4);
int sb_vfail(const sb_err *err, int status, const char *fmt, va_list ap) SB_PRINTF(3, 0);

/* The short text of a status code (what sbert_strerror() returns). */
const char *sb_status_text(int status);

#endif
