/* Hash flooding (issue 13): vocabularies crafted so that every key collides
 * under the hash functions the library used before it keyed them
 * (src/et_hash.h), against both tables a tokenizer builds from its
 * vocabulary:
 *   - the exact-lookup map (vocab.c): 16-byte tokens with the same 64-bit
 *     value of the former et_hash_bytes, found by solving its two rounds;
 *   - the trie's edge table (et_wordpiece.h): one long token whose every
 *     edge the former multiplicative hash sends to the first 1/32 of the
 *     table (its bytes are chosen per position, knowing the node numbers).
 * Both tables use linear probing, so the cost is counted in probes, not
 * seconds: for every stored key, the slots a lookup of it reads (its
 * displacement from its home slot + 1).  That is also what inserting it
 * cost, since nothing is ever deleted.  "Before" replays the same keys, in
 * the builder's insertion order, into a table hashed with the former
 * function (a copy below); "after" reads the library's own tables.  Before
 * grows as keys^2 (doubling the keys quadruples the probes); after stays
 * under 3 probes per key whatever the seed.  The crafted vocabularies must
 * also tokenize the same with every seed (and as greedy longest-match-first).
 * Prints "N passed, M failed"; exit status 1 on any failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgetext.h"
#include "et_tokenizer.h"
#include "ref_greedy.h"

#include "check.h"

/* ---- the former hash functions (verbatim, before et_hash.h) ---------- */

#define OLD_G 0x9E3779B97F4A7C15ULL
#define OLD_C1 0xFF51AFD7ED558CCDULL
#define OLD_C2 0xC4CEB9FE1A85EC53ULL

static uint64_t old_fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= OLD_C1;
  h ^= h >> 33;
  h *= OLD_C2;
  h ^= h >> 33;
  return h;
}

static uint64_t old_load64(const char *s) {
  uint64_t x;
  memcpy(&x, s, 8);
  return x;
}

static uint64_t old_hash_bytes(const char *s, size_t n) {
  if (n <= 8) {
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x |= (uint64_t)(unsigned char)s[i] << (8 * i);
    return old_fmix64(x ^ ((uint64_t)n * OLD_G));
  }
  uint64_t h = (uint64_t)n * OLD_G;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h = (h ^ old_load64(s + i)) * OLD_C1;
    h ^= h >> 32;
  }
  if (i < n) h ^= old_load64(s + n - 8) * OLD_C2;
  return old_fmix64(h);
}

static uint64_t old_edge_hash(uint32_t key) { return (uint64_t)key * OLD_G >> 24; }

/* ---- helpers ---------------------------------------------------------- */

static uint64_t g_rng = 0x1234567887654321ULL;
static uint64_t rnd(void) { /* xorshift64*: reproducible inputs */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1DULL;
}

static int printable(unsigned b) { return b >= 0x21 && b <= 0x7E && b != '#'; }
static int alnum(unsigned b) { return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'); }

typedef struct {
  char *p;
  size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static EtTokenizer *create(const Buf *vocab, uint64_t seed) {
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.hash_seed = seed;
  o.lowercase = 0;
  o.max_input_chars_per_word = 1u << 20;
  EtTokenizer *t = NULL;
  EtError err;
  if (et_tokenizer_create_from_buffer(vocab->p, vocab->len, &o, &t, &err) != ET_OK) {
    fprintf(stderr, "create failed: %s\n", err.message);
    return NULL;
  }
  return t;
}

typedef struct {
  uint64_t sum, max, keys;
} Probes;

static void probes_add(Probes *p, uint64_t n) {
  p->sum += n;
  if (n > p->max) p->max = n;
  p->keys++;
}

/* the library's map: probes to find every stored token */
static Probes map_probes(const EtTokenizer *t) {
  const EtVocab *v = &t->vocab;
  Probes p = {0, 0, 0};
  for (size_t id = 0; id < v->n_ids; id++) {
    if (v->tok_off[id] == UINT32_MAX) continue;
    uint64_t h = et_hash_bytes(&v->hash, v->bytes + v->tok_off[id], v->tok_len[id]);
    size_t i = (size_t)h & v->map_mask, n = 1;
    while (v->map[i].id1 != id + 1) {
      i = (i + 1) & v->map_mask;
      n++;
    }
    probes_add(&p, n);
  }
  return p;
}

/* the same tokens in the former map: same capacity rule, same order */
static Probes old_map_probes(const EtTokenizer *t) {
  const EtVocab *v = &t->vocab;
  size_t cap = 16;
  while (cap < v->n_ids * 2) cap <<= 1;
  uint32_t *slot = calloc(cap, sizeof *slot); /* id + 1 */
  if (!slot) abort();
  for (size_t id = 0; id < v->n_ids; id++) {
    if (v->tok_off[id] == UINT32_MAX) continue;
    size_t i = (size_t)old_hash_bytes(v->bytes + v->tok_off[id], v->tok_len[id]) & (cap - 1);
    while (slot[i]) i = (i + 1) & (cap - 1);
    slot[i] = (uint32_t)id + 1;
  }
  Probes p = {0, 0, 0};
  for (size_t i = 0; i < cap; i++) {
    if (!slot[i]) continue;
    uint32_t id = slot[i] - 1;
    size_t home = (size_t)old_hash_bytes(v->bytes + v->tok_off[id], v->tok_len[id]) & (cap - 1);
    probes_add(&p, ((i - home) & (cap - 1)) + 1);
  }
  free(slot);
  return p;
}

/* the library's edge table: probes to find every edge */
static Probes edge_probes(const EtTokenizer *t) {
  const EtWordPieceModel *m = &t->wp;
  Probes p = {0, 0, 0};
  for (uint64_t i = 0; i <= m->edge_mask; i++) {
    if (m->edges[i].key == 0) continue;
    uint64_t home = et_wp_edge_hash(m, m->edges[i].key) & m->edge_mask;
    probes_add(&p, ((i - home) & m->edge_mask) + 1);
  }
  return p;
}

static int by_child(const void *a, const void *b) {
  const EtEdge *x = a, *y = b;
  return (x->child > y->child) - (x->child < y->child);
}

/* the builder's table size after n edges: 4096 slots, doubled before the
 * load would pass 2/3 */
static uint64_t edge_cap_after(uint64_t n) {
  uint64_t cap = 4096;
  for (uint64_t k = 0; k < n; k++)
    if ((k + 1) * 3 > cap * 2) cap *= 2;
  return cap;
}

/* The same edges in the former table, in the builder's insertion order (a
 * node's number is its creation order, so sorting by child recovers it),
 * with its growth (rehash in slot order). */
static Probes old_edge_probes(const EtTokenizer *t) {
  const EtWordPieceModel *m = &t->wp;
  EtEdge *list = malloc(m->n_edges * sizeof *list);
  if (!list) abort();
  uint32_t n = 0;
  for (uint64_t i = 0; i <= m->edge_mask; i++)
    if (m->edges[i].key) list[n++] = m->edges[i];
  qsort(list, n, sizeof *list, by_child);
  uint64_t cap = 4096;
  EtEdge *tab = calloc(cap, sizeof *tab);
  if (!tab) abort();
  for (uint32_t k = 0; k < n; k++) {
    if ((uint64_t)(k + 1) * 3 > cap * 2) {
      EtEdge *big = calloc(cap * 2, sizeof *big);
      if (!big) abort();
      for (uint64_t i = 0; i < cap; i++) {
        if (!tab[i].key) continue;
        uint64_t j = old_edge_hash(tab[i].key) & (cap * 2 - 1);
        while (big[j].key) j = (j + 1) & (cap * 2 - 1);
        big[j] = tab[i];
      }
      free(tab);
      tab = big;
      cap *= 2;
    }
    uint64_t j = old_edge_hash(list[k].key) & (cap - 1);
    while (tab[j].key) j = (j + 1) & (cap - 1);
    tab[j] = list[k];
  }
  Probes p = {0, 0, 0};
  for (uint64_t i = 0; i < cap; i++) {
    if (!tab[i].key) continue;
    uint64_t home = old_edge_hash(tab[i].key) & (cap - 1);
    probes_add(&p, ((i - home) & (cap - 1)) + 1);
  }
  free(tab);
  free(list);
  return p;
}

/* ---- crafting --------------------------------------------------------- */

/* n distinct 16-byte printable tokens w0 w1 with one value of the former
 * et_hash_bytes: its state after w0 is a = r(16 G ^ w0) (r: multiply, xor
 * shift; a bijection), after w1 it is r(a ^ w1).  Fixing a ^ w1 = X fixes
 * the hash, so for random w0 take w1 = a ^ X whenever that is printable
 * (about 1 w0 in 3,000). */
static void craft_map_collisions(Buf *vocab, size_t n) {
  const uint64_t X = 0x5555555555555555ULL;
  char tok[17];
  unsigned char set[93];
  for (unsigned c = 0x21, k = 0; c <= 0x7E; c++)
    if (printable(c)) set[k++] = (unsigned char)c;
  for (size_t made = 0; made < n;) {
    uint64_t r = rnd(), w0 = 0;
    for (int i = 0; i < 8; i++) w0 |= (uint64_t)set[((r >> (8 * i)) & 255) * 93 >> 8] << (8 * i);
    uint64_t a = (16 * OLD_G ^ w0) * OLD_C1;
    a ^= a >> 32;
    uint64_t w1 = a ^ X;
    int ok = 1;
    for (int i = 0; i < 8 && ok; i++) ok = printable((unsigned)(w1 >> (8 * i)) & 255);
    if (!ok) continue;
    memcpy(tok, &w0, 8); /* the former hash loaded words in the platform's order */
    memcpy(tok + 8, &w1, 8);
    tok[16] = '\n';
    buf_add(vocab, tok, 17);
    made++;
  }
}

/* One token of len printable bytes whose every trie edge the former edge
 * hash sends near slot 0 of the final table: the token is line 0, so its
 * chain is nodes 2, 3, ... (root 0, suffix root 1) and the edge into
 * position i leaves node i == 0 ? 0 : i + 1; of the 62 letters and digits
 * (one word for the pre-tokenizer), take the one whose slot is lowest. */
static void craft_edge_chain(Buf *vocab, size_t len, size_t other_edges) {
  if (len > ((size_t)1 << 24)) abort(); /* the trie's node limit */
  uint64_t mask = edge_cap_after(len + other_edges) - 1;
  char *tok = malloc(len + 1);
  if (!tok) abort();
  for (size_t i = 0; i < len; i++) {
    uint32_t node = i == 0 ? 0 : (uint32_t)i + 1;
    uint64_t best = UINT64_MAX;
    for (unsigned c = 0x21; c <= 0x7E; c++) {
      if (!alnum(c)) continue;
      uint64_t at = old_edge_hash((node << 8 | c) + 1) & mask;
      if (at < best) {
        best = at;
        tok[i] = (char)c;
      }
    }
  }
  tok[len] = '\n';
  buf_add(vocab, tok, len + 1);
  free(tok);
}

/* ---- the tests -------------------------------------------------------- */

static const char SPECIALS[] = "[UNK]\n[CLS]\n[SEP]\n";
#define SPECIAL_EDGES 13 /* [ U N K ] C L S ] S E P ] */

/* ids of text (no special tokens), or length -1 on error */
static int encode(const EtTokenizer *t, const char *text, size_t n, int32_t *ids, size_t cap) {
  EtEncodeOptions eo;
  et_encode_options_init(&eo);
  eo.add_special_tokens = 0;
  EtEncoding enc = {ids, NULL, NULL, NULL, cap, 0};
  if (et_encode(t, text, n, NULL, 0, &eo, &enc, NULL) != ET_OK) return -1;
  return (int)enc.length;
}

static unsigned char *save(const EtTokenizer *t, size_t *size) {
  *size = 0;
  et_tokenizer_save_model(t, NULL, 0, size, NULL);
  unsigned char *b = malloc(*size);
  if (b && et_tokenizer_save_model(t, b, *size, size, NULL) != ET_OK) {
    free(b);
    return NULL;
  }
  return b;
}

/* seeds 1 and 2 and one from the OS: same ids on texts made of the crafted
 * tokens, same compiled model bytes */
static int seed_independent(const Buf *vocab, const char *text, size_t n) {
  EtTokenizer *t[3] = {create(vocab, 1), create(vocab, 2), create(vocab, 0)};
  int ok = t[0] && t[1] && t[2];
  size_t cap = n + 16;
  int32_t *ids[3];
  int len[3];
  size_t bsize[3];
  unsigned char *blob[3] = {NULL, NULL, NULL};
  for (int k = 0; k < 3; k++) {
    ids[k] = malloc(cap * sizeof(int32_t));
    len[k] = ok && ids[k] ? encode(t[k], text, n, ids[k], cap) : -1;
    blob[k] = ok ? save(t[k], &bsize[k]) : NULL;
  }
  for (int k = 1; k < 3 && ok; k++) {
    ok = len[k] == len[0] && len[0] > 0 && memcmp(ids[k], ids[0], (size_t)len[0] * sizeof(int32_t)) == 0;
    ok = ok && blob[k] && blob[0] && bsize[k] == bsize[0] && memcmp(blob[k], blob[0], bsize[0]) == 0;
  }
  for (int k = 0; k < 3; k++) {
    free(ids[k]);
    free(blob[k]);
    et_tokenizer_delete(t[k]);
  }
  return ok;
}

/* valgrind runs ~50x slower: half the keys still show the square */
static size_t scaled(size_t n) { return getenv("EDGETEXT_UNDER_VALGRIND") ? n / 2 : n; }

static void test_map_flood(void) {
  const size_t sizes[2] = {scaled(2000), scaled(4000)};
  Probes before[2], after[2];
  for (int s = 0; s < 2; s++) {
    Buf v = {NULL, 0, 0};
    buf_add(&v, SPECIALS, strlen(SPECIALS));
    size_t first = v.len;
    craft_map_collisions(&v, sizes[s]);
    /* they really collide under the former function: one 64-bit value */
    uint64_t h0 = old_hash_bytes(v.p + first, 16);
    int same = 1;
    for (size_t i = 0; i < sizes[s]; i++) same &= old_hash_bytes(v.p + first + 17 * i, 16) == h0;
    CHECK(same);
    EtTokenizer *t = create(&v, 0x5EED + (uint64_t)s);
    CHECK(t != NULL);
    if (!t) {
      free(v.p);
      return;
    }
    before[s] = old_map_probes(t);
    after[s] = map_probes(t);
    fprintf(stderr, "  map, %zu colliding 16-byte tokens: probes to find each once: former hash %llu (max %llu), "
            "keyed %llu (max %llu), %.2f per key\n", sizes[s], (unsigned long long)before[s].sum,
            (unsigned long long)before[s].max, (unsigned long long)after[s].sum,
            (unsigned long long)after[s].max, (double)after[s].sum / (double)after[s].keys);
    CHECK(before[s].sum >= (uint64_t)sizes[s] * sizes[s] / 4); /* one cluster: ~n^2/2 */
    CHECK(after[s].sum <= 3 * after[s].keys);
    et_tokenizer_delete(t);
    /* a random seed too (what every caller gets): the bound does not depend on the seed */
    t = create(&v, 0);
    Probes r = t ? map_probes(t) : (Probes){UINT64_MAX, 0, 1};
    CHECK(r.sum <= 3 * r.keys);
    int found = t != NULL; /* every crafted token is found, with its id */
    for (size_t i = 0; i < sizes[s] && found; i++)
      found = et_tokenizer_token_to_id(t, v.p + first + 17 * i, 16) == (int32_t)(3 + i);
    CHECK(found);
    et_tokenizer_delete(t);
    /* a text of crafted tokens: the same ids with every seed */
    Buf text = {NULL, 0, 0};
    for (size_t i = 0; i < 64; i++) {
      buf_add(&text, v.p + first + 17 * (rnd() % sizes[s]), 16);
      buf_add(&text, " ", 1);
    }
    CHECK(seed_independent(&v, text.p, text.len));
    free(text.p);
    free(v.p);
  }
  /* quadratic before: twice the keys, ~4x the probes; linear after */
  CHECK(before[1].sum >= 3 * before[0].sum);
  CHECK(after[1].sum <= 3 * after[0].sum);
}

static void test_edge_flood(void) {
  const size_t sizes[2] = {scaled(4000), scaled(8000)};
  Probes before[2], after[2];
  for (int s = 0; s < 2; s++) {
    Buf v = {NULL, 0, 0};
    craft_edge_chain(&v, sizes[s], SPECIAL_EDGES);
    size_t chain_len = v.len - 1;
    buf_add(&v, SPECIALS, strlen(SPECIALS));
    EtTokenizer *t = create(&v, 0xED6E + (uint64_t)s);
    CHECK(t != NULL);
    if (!t) {
      free(v.p);
      return;
    }
    CHECK(t->wp.n_edges == sizes[s] + SPECIAL_EDGES); /* the chain and the specials, as crafted */
    before[s] = old_edge_probes(t);
    after[s] = edge_probes(t);
    fprintf(stderr, "  trie edges, one crafted %zu-byte token: probes to find each edge once: former hash %llu "
            "(max %llu), keyed %llu (max %llu), %.2f per edge\n", sizes[s], (unsigned long long)before[s].sum,
            (unsigned long long)before[s].max, (unsigned long long)after[s].sum,
            (unsigned long long)after[s].max, (double)after[s].sum / (double)after[s].keys);
    CHECK(before[s].sum >= (uint64_t)sizes[s] * sizes[s] / 4);
    CHECK(after[s].sum <= 3 * after[s].keys);
    et_tokenizer_delete(t);
    t = create(&v, 0);
    Probes r = t ? edge_probes(t) : (Probes){UINT64_MAX, 0, 1};
    CHECK(r.sum <= 3 * r.keys);
    /* LinMaxMatch over the chain: a prefix of the token is [UNK] (no
     * shorter token, no continuation), the token itself is one id, as
     * greedy longest-match-first says; the same with every seed */
    if (t) {
      const char *toks[4] = {"[UNK]", "[CLS]", "[SEP]", NULL};
      char *tok = malloc(chain_len + 1);
      memcpy(tok, v.p, chain_len);
      tok[chain_len] = 0;
      toks[3] = tok;
      int32_t want[4], ids[4];
      int k = ref_greedy(toks, 4, v.p, (int)chain_len, want);
      CHECK(k == 1 && want[0] == 3 && encode(t, v.p, chain_len, ids, 4) == 1 && ids[0] == 0);
      CHECK(ref_greedy(toks, 4, v.p, (int)chain_len - 1, want) == -1 &&
            encode(t, v.p, chain_len - 1, ids, 4) == 1 && ids[0] == et_tokenizer_unk_id(t));
      free(tok);
    }
    et_tokenizer_delete(t);
    CHECK(seed_independent(&v, v.p, chain_len));
    free(v.p);
  }
  CHECK(before[1].sum >= 3 * before[0].sum);
  CHECK(after[1].sum <= 3 * after[0].sum);
}

/* a compiled model saved under one seed loads under another: the blob
 * carries a sorted edge list, and the loader hashes it with its own seed */
static void test_compiled_model_across_seeds(void) {
  Buf v = {NULL, 0, 0};
  buf_add(&v, SPECIALS, strlen(SPECIALS));
  buf_add(&v, "un\n##aff\n##able\nplay\n##ing\n##s\n", 31);
  EtTokenizer *a = create(&v, 11);
  size_t n = 0;
  unsigned char *blob = a ? save(a, &n) : NULL;
  CHECK(blob != NULL);
  EtTokenizerOptions o;
  et_tokenizer_options_init(&o);
  o.hash_seed = 12;
  o.lowercase = 0;
  o.compiled_model = blob;
  o.compiled_model_size = n;
  EtTokenizer *b = NULL;
  CHECK(blob && et_tokenizer_create_from_buffer(v.p, v.len, &o, &b, NULL) == ET_OK);
  int32_t ia[16], ib[16];
  const char *text = "unaffable playing plays unplay";
  int la = a ? encode(a, text, strlen(text), ia, 16) : -1, lb = b ? encode(b, text, strlen(text), ib, 16) : -2;
  CHECK(la == 8 && la == lb && memcmp(ia, ib, (size_t)la * sizeof(int32_t)) == 0);
  size_t n2 = 0;
  unsigned char *blob2 = b ? save(b, &n2) : NULL;
  CHECK(blob2 && n2 == n && memcmp(blob, blob2, n) == 0);
  CHECK(b == NULL || b->wp.edge_tab[0][0] != a->wp.edge_tab[0][0]); /* really another table */
  free(blob);
  free(blob2);
  et_tokenizer_delete(a);
  et_tokenizer_delete(b);
  free(v.p);
}

int main(void) {
  test_map_flood();
  test_edge_flood();
  test_compiled_model_across_seeds();
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
