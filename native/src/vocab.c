/* The vocabulary: vocab.txt parsed with HF's rules into token strings, and
 * the exact-lookup hash map (et_vocab.h) the runtime probes for every word,
 * hashed with the tokenizer's keys (et_hash.h).  Depends on status. */
#include <stdlib.h>
#include <string.h>

#include "et_status.h"
#include "et_utf8.h"
#include "et_vocab.h"
#include "unicode_tables.h"

void et_vocab_hash_init(EtVocabHash *k, uint64_t seed) {
  uint64_t state = seed;
  k->k0 = et_splitmix64(&state);
  k->k1 = et_splitmix64(&state);
  for (int i = 0; i < 9; i++)
    for (int b = 0; b < 256; b++) k->tab[i][b] = et_splitmix64(&state);
}

static inline uint32_t map_tag(uint64_t h, size_t n) {
  return (uint32_t)(h >> 40) << 8 | (uint32_t)(n < 255 ? n : 255);
}

/* Exact lookup; a hit on a token of up to 8 bytes reads only its slot. */
static inline int32_t map_find_h(const EtVocab *v, const char *s, size_t n, uint64_t h, uint64_t inl,
                                 size_t *slot) {
  uint32_t tag = map_tag(h, n);
  size_t i = (size_t)h & v->map_mask;
  for (;;) {
    const EtMapSlot *e = &v->map[i];
    if (e->id1 == 0) {
      if (slot) *slot = i;
      return -1;
    }
    if (e->tag == tag && e->inl == inl) {
      uint32_t id = e->id1 - 1;
      if (n <= 8 || (v->tok_len[id] == n && memcmp(v->bytes + v->tok_off[id], s, n) == 0)) {
        if (slot) *slot = i;
        return (int32_t)id;
      }
    }
    i = (i + 1) & v->map_mask;
  }
}

static int32_t map_find(const EtVocab *v, const char *s, size_t n, size_t *slot) {
  return map_find_h(v, s, n, et_hash_bytes(&v->hash, s, n), et_inline_bytes(s, n), slot);
}

int32_t et_vocab_find(const EtVocab *vocab, const char *s, size_t n) {
  if (vocab->map == NULL) return -1;
  return map_find(vocab, s, n, NULL);
}

int32_t et_vocab_find_inl(const EtVocab *vocab, const char *s, size_t n, uint64_t inl) {
  if (vocab->map == NULL) return -1;
  if (n > 8) return map_find(vocab, s, n, NULL);
  return map_find_h(vocab, s, n, et_hash_inline(&vocab->hash, inl, n), inl, NULL);
}

void et_vocab_free(EtVocab *vocab) {
  free(vocab->bytes);
  free(vocab->tok_off);
  free(vocab->tok_len);
  free(vocab->map);
  memset(vocab, 0, sizeof(*vocab));
}

/* Length of the line without trailing White_Space (Rust str::trim_end, as HF
 * WordPiece::read_file); -1 when the line is not valid UTF-8. */
static long trimmed_length(const unsigned char *s, size_t n) {
  size_t i = 0, keep = 0;
  while (i < n) {
    int32_t c = et_utf8_next(s, n, &i);
    if (c < 0) return -1;
    if (!(et_uprop_of((uint32_t)c)->flags & ET_UF_WS)) keep = i;
  }
  return (long)keep;
}

EtStatus et_vocab_parse(EtVocab *v, const char *data, size_t size, uint64_t seed, EtError *err) {
  memset(v, 0, sizeof(*v));
  et_vocab_hash_init(&v->hash, seed);
  if (size >= UINT32_MAX) {
    et_set_error(err, ET_ERR_VOCAB, "vocabulary too large (%zu bytes)", size);
    return ET_ERR_VOCAB;
  }
  size_t lines = 0;
  for (size_t i = 0; i < size; i++)
    if (data[i] == '\n') lines++;
  if (size > 0 && data[size - 1] != '\n') lines++;
  if (lines == 0) {
    et_set_error(err, ET_ERR_VOCAB, "the vocabulary is empty");
    return ET_ERR_VOCAB;
  }
  if (lines > (SIZE_MAX / 4) / sizeof(EtMapSlot)) { /* 32-bit targets: the map would not fit */
    et_set_error(err, ET_ERR_VOCAB, "vocabulary too large (%zu lines)", lines);
    return ET_ERR_VOCAB;
  }
  size_t cap = 16;
  while (cap < lines * 2) cap <<= 1;
  v->bytes = malloc(size + 1);
  v->tok_off = malloc(lines * sizeof(uint32_t));
  v->tok_len = malloc(lines * sizeof(uint32_t));
  v->map = calloc(cap, sizeof(EtMapSlot));
  if (!v->bytes || !v->tok_off || !v->tok_len || !v->map) {
    et_vocab_free(v);
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory reading the vocabulary");
    return ET_ERR_NO_MEMORY;
  }
  v->map_mask = cap - 1;
  size_t pos = 0, out = 0, id = 0;
  while (pos < size) {
    const char *nl = memchr(data + pos, '\n', size - pos);
    size_t end = nl ? (size_t)(nl - data) : size;
    long len = trimmed_length((const unsigned char *)data + pos, end - pos);
    if (len < 0) {
      et_set_error(err, ET_ERR_VOCAB, "vocabulary line %zu is not valid UTF-8", id + 1);
      et_vocab_free(v);
      return ET_ERR_VOCAB;
    }
    memcpy(v->bytes + out, data + pos, (size_t)len);
    v->tok_off[id] = (uint32_t)out;
    v->tok_len[id] = (uint32_t)len;
    size_t slot;
    int32_t prev = map_find(v, v->bytes + out, (size_t)len, &slot);
    if (prev >= 0) {
      v->tok_off[prev] = UINT32_MAX; /* HF: the last line of a duplicate wins */
      v->tok_len[prev] = UINT32_MAX;
    } else {
      v->n_unique++;
    }
    v->map[slot].tag = map_tag(et_hash_bytes(&v->hash, v->bytes + out, (size_t)len), (size_t)len);
    v->map[slot].inl = et_inline_bytes(v->bytes + out, (size_t)len);
    v->map[slot].id1 = (uint32_t)id + 1;
    out += (size_t)len;
    id++;
    pos = end + 1;
  }
  v->n_ids = id;
  v->bytes_len = out;
  return ET_OK;
}
