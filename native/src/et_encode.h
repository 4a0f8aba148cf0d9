/* encode.c: one example (a text or a pair) -> one row: HF's template
 * ([CLS] A [SEP] (B [SEP])), longest-first truncation, padding.  The row
 * steps are shared with batch.c.  Depends on status, tokens and
 * pretokenize. */
#ifndef EDGETEXT_ET_ENCODE_H_
#define EDGETEXT_ET_ENCODE_H_

#include <stddef.h>
#include <stdint.h>

#include "edgetext.h"
#include "et_tokens.h"

/* The tokens of one example's two sequences (b unused for single texts). */
typedef struct {
  EtTokenList a, b;
} EtPairTokens;

/* The caller's options (NULL: defaults) checked against the struct_size
 * rule and copied into *out. */
EtStatus et_encode_read_options(const EtEncodeOptions *options, EtEncodeOptions *out, EtError *err);

/* Tokenizes text (and pair when not NULL) into s and sets *n1, *n2 to the
 * tokens of each sequence that stay after truncation. */
EtStatus et_encode_tokens(const EtTokenizer *t, const char *text, size_t text_size, const char *pair,
                          size_t pair_size, const EtEncodeOptions *o, EtPairTokens *s, size_t *n1,
                          size_t *n2, EtError *err);

/* Tokens of the row: n1 + n2 + specials, padded up to max_length. */
size_t et_encode_row_length(const EtEncodeOptions *o, int is_pair, size_t n1, size_t n2);

/* Writes the row (et_encode_row_length entries; types, mask, offs may be
 * NULL; offs holds 2 per token). */
void et_encode_write_row(const EtTokenizer *t, const EtEncodeOptions *o, const EtPairTokens *s,
                         int is_pair, size_t n1, size_t n2, int32_t *ids, int32_t *types,
                         int32_t *mask, int32_t *offs);

#endif /* EDGETEXT_ET_ENCODE_H_ */
