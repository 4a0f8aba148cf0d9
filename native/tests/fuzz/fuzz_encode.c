/* libFuzzer harness: one text or a pair with random encode options
 * (max_length, truncation, padding, special tokens) and tokenizer options.
 * Input: [tokenizer flags][encode flags][max_length][split] bytes...; the
 * bytes before `split` (mod their count) are the text, the rest the pair
 * (encode flag 8: no pair).
 * Checks: no sanitizer report; only ET_ERR_INVALID_UTF8 as an error; ids
 * inside the vocabulary, offsets inside their sequence, types and mask;
 * the row length rules (truncation, padding); a truncated row equals the
 * full tokens truncated by HF's rule (so stopping early is exact); the
 * ids-only entry points agree; a short buffer reports the length needed. */
#include "fuzz_common.h"



int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {

  if (size < 4) return 0;
  uint8_t tflags = data[0], eflags = data[1];
  size_t max_length = data[2] % 40, split = data[3];
  data += 4;
  size -= 4;
  split = size ? split % (size + 1) : 0;
  int is_pair = !((eflags >> 3) & 1);
  const char *text = (const char *)data, *pair = is_pair ? (const char *)data + split : NULL;
  size_t text_size = is_pair ? split : size, pair_size = is_pair ? size - split : 0;
  const EtTokenizer *t = fuzz_tokenizer_for(tflags);
  EtEncodeOptions eo, full;
  fuzz_encode_options(&eo, eflags, max_length);
  fuzz_encode_options(&full, 0, 0); /* no truncation, no padding */
  full.add_special_tokens = 0;
  enum { CAP = 4 * 4096 + 64 };
  int32_t *ids = malloc(CAP * sizeof(int32_t)), *types = malloc(CAP * sizeof(int32_t));
  int32_t *mask = malloc(CAP * sizeof(int32_t)), *offs = malloc(2 * CAP * sizeof(int32_t));
  int32_t *fa = malloc(CAP * sizeof(int32_t)), *fao = malloc(2 * CAP * sizeof(int32_t));
  int32_t *fb = malloc(CAP * sizeof(int32_t)), *fbo = malloc(2 * CAP * sizeof(int32_t));
  EtEncoding enc = {ids, types, mask, offs, CAP, 0};
  EtError err;
  EtStatus st = et_encode(t, text, text_size, pair, pair_size, &eo, &enc, &err);
  EtEncoding ea = {fa, NULL, NULL, fao, CAP, 0}, eb = {fb, NULL, NULL, fbo, CAP, 0};
  EtStatus sa = et_encode(t, text, text_size, NULL, 0, &full, &ea, NULL);
  EtStatus sb = is_pair ? et_encode(t, pair, pair_size, NULL, 0, &full, &eb, NULL) : ET_OK;
  if (sa != ET_OK || sb != ET_OK) {
    /* an error in either sequence is the error of the example, truncated or not */
    FUZZ_CHECK(st == ET_ERR_INVALID_UTF8 && (sa == ET_ERR_INVALID_UTF8 || sb == ET_ERR_INVALID_UTF8));
    FUZZ_CHECK((sa == ET_OK) == (strstr(err.message, "text_pair") != NULL));
  } else {
    FUZZ_CHECK(st == ET_OK);
    size_t added = eo.add_special_tokens ? (is_pair ? 3 : 2) : 0;
    size_t n1 = ea.length, n2 = is_pair ? eb.length : 0;
    if (eo.truncation && eo.max_length > 0 && eo.max_length >= added) ref_truncate(eo.max_length - added, &n1, &n2, is_pair);
    size_t row = n1 + n2 + added;
    if (eo.padding == ET_PAD_TO_MAX_LENGTH && eo.max_length > row) row = eo.max_length;
    FUZZ_CHECK(enc.length == row);
    size_t k = 0, c1 = fuzz_utf8_chars(data, text_size), c2 = is_pair ? fuzz_utf8_chars(data + split, pair_size) : 0;
    if (eo.add_special_tokens) FUZZ_CHECK(ids[k] == 2 && offs[2 * k] == 0 && offs[2 * k + 1] == 0 && types[k++] == 0);
    for (size_t i = 0; i < n1; i++, k++)
      FUZZ_CHECK(ids[k] == fa[i] && offs[2 * k] == fao[2 * i] && offs[2 * k + 1] == fao[2 * i + 1] &&
                 types[k] == 0 && mask[k] == 1 && offs[2 * k] < offs[2 * k + 1] && (size_t)offs[2 * k + 1] <= c1);
    if (eo.add_special_tokens) FUZZ_CHECK(ids[k] == 3 && types[k++] == 0);
    for (size_t i = 0; i < n2; i++, k++)
      FUZZ_CHECK(ids[k] == fb[i] && offs[2 * k] == fbo[2 * i] && offs[2 * k + 1] == fbo[2 * i + 1] &&
                 types[k] == 1 && offs[2 * k] < offs[2 * k + 1] && (size_t)offs[2 * k + 1] <= c2);
    if (is_pair && eo.add_special_tokens) FUZZ_CHECK(ids[k] == 3 && types[k++] == 1);
    for (; k < enc.length; k++) FUZZ_CHECK(ids[k] == 0 && mask[k] == 0 && types[k] == 0 && offs[2 * k + 1] == 0);
    for (size_t i = 0; i < enc.length; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < FUZZ_VOCAB_IDS);
    /* ids only: et_encode_ids and the bindings' call give the same ids */
    if (!is_pair) {
      size_t len = 0;
      FUZZ_CHECK(et_encode_ids(t, text, text_size, &eo, fa, CAP, &len, NULL) == ET_OK && len == enc.length &&
                 memcmp(fa, ids, len * sizeof(int32_t)) == 0);
      EtIdsCall call = {t, &eo, fa, CAP, 0, NULL};
      FUZZ_CHECK(et_encode_ids_call(&call, text, text_size) == (int64_t)enc.length);
    }
    /* one slot short: ET_ERR_BUFFER_TOO_SMALL with the length needed */
    if (enc.length > 0) {
      EtEncoding small = {fb, NULL, NULL, NULL, enc.length - 1, 0};
      FUZZ_CHECK(et_encode(t, text, text_size, pair, pair_size, &eo, &small, NULL) == ET_ERR_BUFFER_TOO_SMALL &&
                 small.length == enc.length);
    }
  }
  free(ids);
  free(types);
  free(mask);
  free(offs);
  free(fa);
  free(fao);
  free(fb);
  free(fbo);
  return 0;
}
