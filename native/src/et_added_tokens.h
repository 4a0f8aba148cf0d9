/* added_tokens.c: HF's AddedVocabulary step for the special tokens: the raw
 * text is split on special-token occurrences before normalization, each
 * occurrence becomes its id, the text between goes through the pipeline
 * (pretokenize.c).  Depends on status, tokens and pretokenize. */
#ifndef EDGETEXT_ET_ADDED_TOKENS_H_
#define EDGETEXT_ET_ADDED_TOKENS_H_

#include <stddef.h>

#include "edgetext.h"
#include "et_tokens.h"

/* As et_tokenize_sequence (same contract: appended to out, may stop after
 * max_tokens, same statuses and messages), with the tokenizer's special
 * tokens matched in the raw text (none when split_special_tokens). */
EtStatus et_tokenize_text(const EtTokenizer *tok, const char *text, size_t size, size_t max_tokens,
                          EtTokenList *out, EtError *err);

#endif /* EDGETEXT_ET_ADDED_TOKENS_H_ */
