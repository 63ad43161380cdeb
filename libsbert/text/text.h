/* The text layer: UTF-8 decoding (utf8.h) and the per-code-point Unicode data (unicode.h) the
 * tokenizer's stages look up. Depends on nothing but libc. */
#ifndef SBERT_TEXT_H
#define SBERT_TEXT_H

#include "unicode.h"
#include "utf8.h"

#endif
