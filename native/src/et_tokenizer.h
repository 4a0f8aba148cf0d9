/* tokenizer.c: the EtTokenizer handle (creation, deletion, the lookup tables
 * the pipeline reads, id lookups, saving the model).  Depends on status, vocab,
 * wordpiece_builder (or wordpiece_serialize).  Every stage that reads the
 * handle includes this. */
#ifndef EDGETEXT_ET_TOKENIZER_H_
#define EDGETEXT_ET_TOKENIZER_H_

#include <stddef.h>
#include <stdint.h>

#include "edgetext.h"
#include "et_vocab.h"
#include "et_wordpiece.h"

enum { ET_ASCII_WORD = 0, ET_ASCII_SPLIT = 1, ET_ASCII_PUNCT = 2, ET_ASCII_REMOVE = 3 };

struct EtTokenizer {
  EtVocab vocab;
  EtWordPieceModel wp;
  int lowercase, strip_accents, chinese, clean_text;
  size_t max_chars_per_word;
  int32_t unk_id, cls_id, sep_id, pad_id;
  char *prefix; /* continuing_subword_prefix (the model's fingerprint includes it) */
  size_t prefix_len;
  int32_t *bmp_token;         /* [0x10000]: id of the one-character token c (-1) */
  uint8_t ascii_class[128];   /* ET_ASCII_*: what the pipeline does with an ASCII byte */
  unsigned char ascii_lower[128];
  /* [256]: the lowercased byte of an ASCII word character other than NUL,
   * else 0 (non-ASCII, split, punctuation, removed): ends a fast ASCII run */
  unsigned char word_byte[256];
  /* special tokens matched in the raw text (added_tokens.c), longest first;
   * bytes point into vocab.bytes; none when split_special_tokens */
  struct {
    const char *bytes;
    uint32_t len, chars;
    int32_t id;
  } special[5];
  uint32_t n_special;
  int special_first;                /* the first byte shared by every special, else -1 */
  unsigned char special_start[256]; /* 1: some special starts with this byte */
};

#endif /* EDGETEXT_ET_TOKENIZER_H_ */
