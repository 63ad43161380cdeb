/* Opening a .sbert model file (docs/FORMAT.md) into a struct sbert_model.
 *
 * The file is mapped read-only (or read into memory) and validated completely before anything in
 * it is used: header, checksum, every key/value entry, hyper-parameter limits, token ids, and every
 * tensor's name, dtype, layout, shape, size and position. A damaged or hostile file is refused with
 * an sbert_status and a one-line message; it never makes the loader read out of bounds.
 *
 * These functions fill every field of struct sbert_model except `tokenizer`, which sbert.c builds
 * from m->tok_cfg afterwards. */
#ifndef SBERT_MODEL_FILE_H
#define SBERT_MODEL_FILE_H

#include <stddef.h>

#include "model.h"

/* Opens and validates the file at `path`. params may be NULL (the defaults: map, prefault). `*m` is
 * overwritten (it must not hold an open model). Returns SBERT_OK or a negative sbert_status; on
 * failure everything is already released, *m is zeroed, and err (when not NULL) receives a
 * NUL-terminated message of at most err_size bytes. */
int sb_model_file_open(sbert_model *m, const char *path, const sbert_model_params *params,
                       char *err, size_t err_size);

/* The same from a buffer of the caller's. A 64-byte-aligned buffer is used in place (it must stay
 * valid and unchanged until sb_model_file_close); any other buffer is copied, since tensors must
 * start on 64-byte boundaries. */
int sb_model_file_from_memory(sbert_model *m, const void *data, size_t size, char *err,
                              size_t err_size);

/* Releases everything the two functions above filled (mapping, copies, owned arrays) and zeroes
 * those fields; m itself is not freed and m->tokenizer is left alone. Safe on a zeroed model and on
 * one already closed. */
void sb_model_file_close(sbert_model *m);

#endif
