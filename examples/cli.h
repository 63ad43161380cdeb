/* What the example CLIs share besides parsing (header-only): finding the text that made a batch
 * fail, and making sure the output was written. */
#ifndef SBERT_EXAMPLES_CLI_H
#define SBERT_EXAMPLES_CLI_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sbert.h"

/* The index of the first of texts[0..n) whose ids cannot be made under opts (its code in
 * *text_rc, the detail in sbert_context_errmsg), or n when none is: a failed batch then failed
 * for another reason (memory). lens may be NULL for NUL-terminated texts. */
static inline size_t cli_first_bad_text(sbert_context *ctx, const char *const *texts,
                                        const size_t *lens, size_t n,
                                        const sbert_encode_options *opts, int *text_rc)
{
    for (size_t i = 0; i < n; i++) {
        size_t n_ids;
        const size_t len = lens ? lens[i] : strlen(texts[i]);
        *text_rc = sbert_encode_ids(ctx, texts[i], len, opts, NULL, 0, &n_ids);
        if (*text_rc != SBERT_OK && *text_rc != SBERT_ERR_BUFFER_TOO_SMALL)
            return i;
    }
    return n;
}

/* 0 when everything printed to stdout reached it; else 1 with "PROG: cannot write the output:
 * why" on stderr (a full disk, a closed pipe with SIGPIPE ignored, /dev/full). */
static inline int cli_flush_stdout(const char *prog)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    fprintf(stderr, "%s: cannot write the output: %s\n", prog, strerror(errno));
    return 1;
}

#endif /* SBERT_EXAMPLES_CLI_H */
