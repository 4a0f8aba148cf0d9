/* libFuzzer harness: vocabulary compilation.  Input: [flags][max chars]
 * then the vocabulary bytes (flag 0x80: as they are, so empty, unterminated
 * and non-UTF-8 files are reached; else after "[UNK]\n[CLS]\n[SEP]\n", so
 * most inputs compile); flag 0x40: continuation prefix "@@" instead of "##".
 * Checks: creation succeeds or fails with ET_ERR_VOCAB (never a crash or a
 * leak); the compiled model is linear in the vocabulary's bytes (the
 * failure-pop bomb of issue 13 made it quadratic); the saved model loads
 * and tokenizes as the compiled one; WordPiece on words made of the
 * vocabulary's tokens equals greedy longest-match-first computed here from
 * token lookups. */
#include "fuzz_common.h"

static int is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* greedy longest-match-first over the bytes of w (ASCII letters/digits), by
 * token_to_id; -1 for [UNK].  out gets the ids. */
static long greedy(const EtTokenizer *t, const char *prefix, const char *w, size_t n, int32_t *out) {
  size_t pos = 0, k = 0, pl = strlen(prefix);
  char buf[600];
  while (pos < n) {
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t end = n; end > pos && best < 0; end--) {
      size_t m = 0;
      if (pos > 0) {
        memcpy(buf, prefix, pl);
        m = pl;
      }
      memcpy(buf + m, w + pos, end - pos);
      best = et_tokenizer_token_to_id(t, buf, m + end - pos);
      best_end = end;
    }
    if (best < 0) return -1;
    out[k++] = best;
    pos = best_end;
  }
  return (long)k;
}

static size_t model_size(const EtTokenizer *t) {
  size_t n = 0;
  et_tokenizer_save_model(t, NULL, 0, &n, NULL);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t flags = data[0], mc = data[1];
  data += 2;
  size -= 2;
  static const char HEAD[] = "[UNK]\n[CLS]\n[SEP]\n";
  size_t vsize = (flags & 0x80) ? size : sizeof HEAD - 1 + size;
  char *vocab = malloc(vsize + 1);
  if (flags & 0x80) {
    memcpy(vocab, data, size);
  } else {
    memcpy(vocab, HEAD, sizeof HEAD - 1);
    memcpy(vocab + sizeof HEAD - 1, data, size);
  }
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.lowercase = flags & 1;
  o.strip_accents = (flags >> 1) & 1 ? 1 : -1;
  o.tokenize_chinese_chars = (flags >> 2) & 1;
  o.clean_text = (flags >> 3) & 1;
  o.max_input_chars_per_word = 1 + mc;
  const char *prefix = (flags & 0x40) ? "@@" : "##";
  o.continuing_subword_prefix = prefix;
  EtTokenizer *t = NULL;
  EtError err;
  EtStatus st = et_tokenizer_create_from_buffer(vocab, vsize, &o, &t, &err);
  if (st != ET_OK) {
    FUZZ_CHECK(st == ET_ERR_VOCAB && t == NULL && err.message[0]);
    free(vocab);
    return 0;
  }
  /* linear memory: edges (~24 bytes a trie node), nodes (12), pops (12) */
  size_t blob = model_size(t);
  FUZZ_CHECK(blob <= 64 * vsize + 65536);
  unsigned char *b = malloc(blob);
  FUZZ_CHECK(b && et_tokenizer_save_model(t, b, blob, &blob, NULL) == ET_OK);
  EtTokenizerOptions lo = o;
  lo.compiled_model = b;
  lo.compiled_model_size = blob;
  EtTokenizer *l = NULL;
  FUZZ_CHECK(et_tokenizer_create_from_buffer(vocab, vsize, &lo, &l, NULL) == ET_OK);
  /* words: concatenations of 1-4 tokens (their prefix removed), picked by
   * the input bytes; only words of ASCII letters and digits, which every
   * normalizer option leaves alone when lowercase is off */
  /* ids run up to the last line; shadowed duplicates have no token */
  int32_t maxid = 0;
  for (int32_t id = 0; id < 1 << 20 && (size_t)id < vsize + 1; id++)
    if (et_tokenizer_id_to_token(t, id, NULL)) maxid = id + 1;
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.add_special_tokens = 0;
  for (size_t q = 0; q + 4 <= size && q < 64; q += 4) {
    char w[520];
    size_t n = 0;
    int parts = 1 + data[q] % 4, ok_word = 1;
    for (int p = 0; p < parts && ok_word; p++) {
      size_t len = 0;
      const char *s = et_tokenizer_id_to_token(t, (int32_t)(data[q + 1 + (p % 3)] % (maxid ? maxid : 1)), &len);
      if (!s) continue;
      if (len >= 2 && memcmp(s, prefix, 2) == 0) {
        s += 2;
        len -= 2;
      }
      if (n + len > 512) break;
      for (size_t i = 0; i < len; i++) ok_word &= is_word_byte((unsigned char)s[i]);
      memcpy(w + n, s, len);
      n += len;
    }
    if (!ok_word || n == 0) continue;
    int32_t ids[600], offs[1200], want[600];
    EtEncoding enc = {ids, NULL, NULL, offs, 600, 0};
    FUZZ_CHECK(et_encode(t, w, n, NULL, 0, &eo, &enc, NULL) == ET_OK);
    EtEncoding enc2 = {want, NULL, NULL, offs + 600, 600, 0};
    FUZZ_CHECK(et_encode(l, w, n, NULL, 0, &eo, &enc2, NULL) == ET_OK && enc2.length == enc.length &&
               memcmp(want, ids, enc.length * 4) == 0 && memcmp(offs, offs + 600, enc.length * 8) == 0);
    if (o.lowercase) continue; /* lowercasing changes the word: no greedy reference */
    if (n > 128 && n <= o.max_input_chars_per_word) continue; /* greedy() is cubic: short words only */
    long k = n > o.max_input_chars_per_word ? -1 : greedy(t, prefix, w, n, want);
    if (k < 0) {
      FUZZ_CHECK(enc.length == 1 && ids[0] == et_tokenizer_unk_id(t) && offs[0] == 0 && (size_t)offs[1] == n);
    } else {
      FUZZ_CHECK(enc.length == (size_t)k && memcmp(ids, want, (size_t)k * 4) == 0);
    }
  }
  free(b);
  free(vocab);
  et_tokenizer_delete(l);
  et_tokenizer_delete(t);
  return 0;
}
