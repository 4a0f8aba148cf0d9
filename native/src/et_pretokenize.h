/* pretokenize.c: HF's BertNormalizer and BertPreTokenizer stages on one
 * text, each pre-token handed to the WordPiece model (wordpiece.c).
 * Depends on status, tokens and wordpiece. */
#ifndef EDGETEXT_ET_PRETOKENIZE_H_
#define EDGETEXT_ET_PRETOKENIZE_H_

#include <stddef.h>

#include "edgetext.h"
#include "et_tokens.h"

/* text[0..size) -> the tokens of one sequence (no special tokens), appended
 * to out.  Tokenizing may stop once max_tokens tokens were appended
 * (SIZE_MAX: never): those are exactly the first max_tokens of the whole
 * text's, and the status is the same (the rest is still checked to be
 * UTF-8); more than max_tokens may have been appended (a word's tokens come
 * together).  ET_ERR_INVALID_UTF8 (message names the byte),
 * ET_ERR_INVALID_ARGUMENT (text too long), ET_ERR_NO_MEMORY. */
EtStatus et_tokenize_sequence(const EtTokenizer *tok, const char *text, size_t size,
                              size_t max_tokens, EtTokenList *out, EtError *err);

/* Whether s[i..size) is valid UTF-8; else *bad_at = the first bad byte. */
int et_utf8_rest_ok(const unsigned char *s, size_t size, size_t i, size_t *bad_at);

#endif /* EDGETEXT_ET_PRETOKENIZE_H_ */
