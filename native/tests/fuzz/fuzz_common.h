/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c): a vocabulary
 * that exercises every stage, HF's longest-first truncation as a reference,
 * and small helpers.  Header only, static functions: each harness is one
 * translation unit. */
#ifndef EDGETEXT_FUZZ_COMMON_H_
#define EDGETEXT_FUZZ_COMMON_H_

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext.h"
#include "edgetext_bindings.h"
#include "../ref_truncate.h"

/* A failed check: print why, then abort so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* ids 0-3 specials; words, continuations, CJK, accents, marks, punctuation */
static const char FUZZ_VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\nab\n##a\n##b\n##ab\nc\n##c\ni\n##\xcc\x87\n\xe4\xb8\xad\n!\n"
    "hello\nworld\n##s\n##ing\nplay\ncafe\n,\n.\n\xe5\x9b\xbd\n##\xe3\x80\xaf\n##\xf0\x9d\x85\xa5\n"
    "\xc3\xa9\n##\xc3\xa9\nx\n##x\n";
#define FUZZ_VOCAB_IDS 31

/* Tokenizer options from one byte (as fuzz_tokenizer.c) */
static void fuzz_tokenizer_options(EtTokenizerOptions *o, uint8_t flags) {
  et_tokenizer_options_init(o);
  o->lowercase = flags & 1;
  o->strip_accents = (int)((flags >> 1) & 3) - 1;
  if (o->strip_accents > 1) o->strip_accents = 1;
  o->tokenize_chinese_chars = (flags >> 3) & 1;
  o->clean_text = (flags >> 4) & 1;
  o->max_input_chars_per_word = 1 + (flags >> 5) * 16;
}

/* The tokenizer for a flags byte, created on first use and kept for the
 * process (creating one costs more than most inputs: the harness's own
 * cache, not library state; tokenizers are immutable, so reuse is safe). */
static EtTokenizer *fuzz_tokenizer_for(uint8_t flags) {
  static EtTokenizer *cache[256];
  if (!cache[flags]) {
    EtTokenizerOptions to;
    fuzz_tokenizer_options(&to, flags);
    FUZZ_CHECK(et_tokenizer_create_from_buffer(FUZZ_VOCAB, sizeof FUZZ_VOCAB - 1, &to, &cache[flags], NULL) == ET_OK);
  }
  return cache[flags];
}

/* Encode options from one byte and a max_length */
static void fuzz_encode_options(EtEncodeOptions *o, uint8_t flags, size_t max_length) {
  et_encode_options_init(o);
  o->max_length = max_length;
  o->truncation = flags & 1;
  o->padding = (flags >> 1) & 1 ? ET_PAD_TO_MAX_LENGTH : ET_PAD_NONE;
  o->add_special_tokens = !((flags >> 2) & 1);
}


/* characters of valid UTF-8 */
static size_t fuzz_utf8_chars(const uint8_t *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += (s[i] & 0xC0) != 0x80;
  return k;
}

#endif /* EDGETEXT_FUZZ_COMMON_H_ */
