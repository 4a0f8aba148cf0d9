/* libFuzzer harness: batch encoding.  Input: [tokenizer flags][encode
 * flags][max_length][threads] then texts separated by 0xFE bytes (never in
 * UTF-8; other invalid bytes stay in the texts); encode flag 8: the texts
 * are pairs (odd ones the second sequences).
 * Checks: the pointer batch and the packed batch equal the rows of
 * et_encode one by one (ids, types, offsets; padding ignored), also with
 * empty rows; on failure both report the first failing text; the dense
 * et_batch_fill_* matrices are the rows cut or padded to the width. */
#include "fuzz_common.h"

enum { MAX_TEXTS = 24 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  uint8_t tflags = data[0], eflags = data[1];
  size_t max_length = data[2] % 24, threads = data[3] % 5; /* 0: one per CPU */
  data += 4;
  size -= 4;
  const char *seg[2 * MAX_TEXTS];
  size_t seg_size[2 * MAX_TEXTS], nseg = 0, start = 0;
  for (size_t i = 0; i <= size && nseg < 2 * MAX_TEXTS; i++)
    if (i == size || data[i] == 0xFE) {
      seg[nseg] = (const char *)data + start;
      seg_size[nseg++] = i - start;
      start = i + 1;
    }
  int is_pair = (eflags >> 3) & 1;
  size_t n = is_pair ? nseg / 2 : nseg;
  const char *texts[MAX_TEXTS * 2], *pairs[MAX_TEXTS];
  size_t ts[MAX_TEXTS * 2], ps[MAX_TEXTS];
  char *packed = malloc(size + 1), *ppacked = malloc(size + 1);
  size_t bounds[MAX_TEXTS * 2 + 1], pbounds[MAX_TEXTS + 1];
  bounds[0] = pbounds[0] = 0;
  for (size_t i = 0; i < n; i++) {
    texts[i] = seg[is_pair ? 2 * i : i];
    ts[i] = seg_size[is_pair ? 2 * i : i];
    memcpy(packed + bounds[i], texts[i], ts[i]);
    bounds[i + 1] = bounds[i] + ts[i];
    if (is_pair) {
      pairs[i] = seg[2 * i + 1];
      ps[i] = seg_size[2 * i + 1];
      memcpy(ppacked + pbounds[i], pairs[i], ps[i]);
      pbounds[i + 1] = pbounds[i] + ps[i];
    }
  }
  const EtTokenizer *t = fuzz_tokenizer_for(tflags);
  EtEncodeOptions eo;
  fuzz_encode_options(&eo, eflags, max_length);
  EtBatch *b = NULL, *pb = NULL;
  EtError err, perr;
  EtStatus st = et_encode_batch(t, n, texts, ts, is_pair ? pairs : NULL, is_pair ? ps : NULL, &eo, threads, &b, &err);
  EtStatus pst = et_encode_batch_packed(t, n, packed, bounds, is_pair ? ppacked : NULL, is_pair ? pbounds : NULL,
                                        &eo, threads, &pb, &perr);
  FUZZ_CHECK(st == pst && (st == ET_OK) == (b != NULL) && (pst == ET_OK) == (pb != NULL));
  /* serial rows (padding off: batches keep rows ragged) */
  EtEncodeOptions ro = eo;
  ro.padding = ET_PAD_NONE;
  enum { CAP = 3 * 4096 + 64 };
  int32_t *ids = malloc(CAP * sizeof(int32_t)), *types = malloc(CAP * sizeof(int32_t));
  int32_t *offs = malloc(2 * CAP * sizeof(int32_t));
  size_t first_bad = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    EtEncoding enc = {ids, types, NULL, offs, CAP, 0};
    EtStatus s = et_encode(t, texts[i], ts[i], is_pair ? pairs[i] : NULL, is_pair ? ps[i] : 0, &ro, &enc, NULL);
    if (s != ET_OK) {
      FUZZ_CHECK(s == ET_ERR_INVALID_UTF8);
      if (first_bad == SIZE_MAX) first_bad = i;
      continue;
    }
    if (st != ET_OK) continue;
    const int32_t *r_ids, *r_types, *r_offs, *p_ids, *p_types, *p_offs;
    size_t len = et_batch_row(b, i, &r_ids, &r_types, &r_offs);
    size_t plen = et_batch_row(pb, i, &p_ids, &p_types, &p_offs);
    FUZZ_CHECK(len == enc.length && plen == len);
    FUZZ_CHECK(!len || (memcmp(r_ids, ids, len * 4) == 0 && memcmp(r_types, types, len * 4) == 0 &&
                        memcmp(r_offs, offs, len * 8) == 0 && memcmp(p_ids, ids, len * 4) == 0 &&
                        memcmp(p_offs, offs, len * 8) == 0));
  }
  if (first_bad != SIZE_MAX) {
    char want[32];
    snprintf(want, sizeof want, "text %zu:", first_bad);
    FUZZ_CHECK(st == ET_ERR_INVALID_UTF8 && strstr(err.message, want) && strstr(perr.message, want));
  } else {
    FUZZ_CHECK(st == ET_OK && et_batch_size(b) == n && et_batch_total_tokens(b) == et_batch_total_tokens(pb));
    /* dense matrices: widths below, at and above the longest row */
    size_t longest = et_batch_max_length(b);
    size_t widths[3] = {longest / 2, longest, longest + 3};
    for (int w = 0; w < 3; w++) {
      size_t width = widths[w], cells = n * width + 1;
      int32_t *di = malloc(cells * 4), *dm = malloc(cells * 4), *dt = malloc(cells * 4), *dof = malloc(cells * 8);
      int64_t *li = malloc(cells * 8), *lo = malloc(cells * 16);
      et_batch_fill_i32(b, width, di, dt, dm, dof);
      et_batch_fill_i64(b, width, li, NULL, NULL, lo);
      for (size_t i = 0; i < n; i++) {
        const int32_t *r_ids, *r_types, *r_offs;
        size_t len = et_batch_row(b, i, &r_ids, &r_types, &r_offs);
        for (size_t k = 0; k < width; k++) {
          size_t c = i * width + k;
          int in = k < len;
          FUZZ_CHECK(di[c] == (in ? r_ids[k] : 0) && dm[c] == in && dt[c] == (in ? r_types[k] : 0) &&
                     li[c] == di[c] && dof[2 * c] == (in ? r_offs[2 * k] : 0) && lo[2 * c + 1] == dof[2 * c + 1]);
        }
      }
      free(di);
      free(dm);
      free(dt);
      free(dof);
      free(li);
      free(lo);
    }
  }
  et_batch_delete(b);
  et_batch_delete(pb);
  free(ids);
  free(types);
  free(offs);
  free(packed);
  free(ppacked);
  return 0;
}
