/* Builder: compiles a parsed vocabulary into the flat Fast WordPiece model
 * (et_wordpiece.h).  Trie and failure links only.
 *
 * Kept apart from the runtime (wordpiece.c), which only reads the model, the
 * way tensorflow/text separates its model builder from its tokenizer.
 * LinMaxMatch (Song et al., arXiv 2012.15524): a trie of all tokens from
 * `root`, a second trie of the continuation tokens (prefix "##" stripped)
 * from `suffix_root`, and for every node v a failure link f(v) and failure
 * pops F(v): the tokens greedy longest-match-first emits when the match
 * cannot be extended past v, and the node where matching resumes afterwards.
 *
 * Everything only the build needs (child lists, depths, labels, the token
 * ending at each node, the unpacked links and pops) lives in `Build`, freed
 * before returning; the model keeps the edges, the packed nodes and pops.
 * Memory is linear in the vocabulary's bytes: the pops are chains that share
 * F(parent) (et_wordpiece.h), and the work of the failure-link walk is
 * linear by the usual Aho-Corasick argument (every step along f lowers
 * depth(f) on the path being extended).
 * Depends on status.
 */
#include <stdlib.h>
#include <string.h>

#include "et_status.h"
#include "et_wordpiece_builder.h"

/* the failure pops under construction (EtPop chains, et_wordpiece.h) */
typedef struct {
  EtPop *items;
  uint32_t len, cap;
  uint32_t *scratch; /* one chain, reversed into reading order */
  uint32_t scratch_cap;
} Pops;

typedef struct {
  EtWordPieceModel *m; /* under construction: edges and n_nodes grow here */
  uint32_t cap;        /* of the per-node arrays below */
  int32_t *node_token; /* token id ending at the node, or -1 */
  uint32_t *first_child, *next_sibling, *depth;
  unsigned char *label;
  uint64_t n_edges;
  /* failure links and pops, unpacked (packed into m->nodes / m->pops at the end) */
  uint32_t *fail_link, *pops_last, *pops_len, *queue;
  Pops pops;
  int pops_too_many; /* more pops than the blob's u32 fields hold: ET_ERR_VOCAB */
} Build;

static void build_free(Build *b) {
  free(b->node_token);
  free(b->first_child);
  free(b->next_sibling);
  free(b->depth);
  free(b->label);
  free(b->fail_link);
  free(b->pops_last);
  free(b->pops_len);
  free(b->queue);
  free(b->pops.items);
  free(b->pops.scratch);
  memset(b, 0, sizeof(*b));
}

static void edge_put_raw(EtWordPieceModel *m, uint32_t key, uint32_t child) {
  uint64_t i = et_wp_edge_hash(m, key) & m->edge_mask;
  while (m->edges[i].key != 0) i = (i + 1) & m->edge_mask;
  m->edges[i].key = key;
  m->edges[i].child = child;
}

static int edges_grow(Build *b) {
  EtWordPieceModel *m = b->m;
  uint64_t old_cap = m->edge_mask + 1, cap = old_cap * 2;
  if (cap > SIZE_MAX / sizeof(EtEdge)) return -1;
  EtEdge *edges = calloc((size_t)cap, sizeof(EtEdge));
  if (!edges) return -1;
  EtEdge *old = m->edges;
  m->edges = edges;
  m->edge_mask = cap - 1;
  for (uint64_t i = 0; i < old_cap; i++)
    if (old[i].key) edge_put_raw(m, old[i].key, old[i].child);
  free(old);
  return 0;
}

static uint32_t new_node(Build *b, uint32_t depth) {
  EtWordPieceModel *m = b->m;
  if (m->n_nodes >= ET_MAX_NODES) return ET_NO_NODE;
  if (m->n_nodes == b->cap) {
    uint32_t cap = b->cap * 2;
    int32_t *tok = realloc(b->node_token, cap * sizeof(int32_t));
    if (tok) b->node_token = tok;
    uint32_t *fc = realloc(b->first_child, cap * sizeof(uint32_t));
    if (fc) b->first_child = fc;
    uint32_t *ns = realloc(b->next_sibling, cap * sizeof(uint32_t));
    if (ns) b->next_sibling = ns;
    uint32_t *dp = realloc(b->depth, cap * sizeof(uint32_t));
    if (dp) b->depth = dp;
    unsigned char *lb = realloc(b->label, cap);
    if (lb) b->label = lb;
    if (!tok || !fc || !ns || !dp || !lb) return ET_NO_NODE;
    b->cap = cap;
  }
  uint32_t n = m->n_nodes++;
  b->node_token[n] = -1;
  b->first_child[n] = ET_NO_NODE;
  b->next_sibling[n] = ET_NO_NODE;
  b->depth[n] = depth;
  b->label[n] = 0;
  return n;
}

static int insert(Build *b, uint32_t from, const unsigned char *s, size_t n, int32_t id) {
  EtWordPieceModel *m = b->m;
  uint32_t u = from;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = et_wp_goto(m, u, s[i]);
    if (v == ET_NO_NODE) {
      if ((b->n_edges + 1) * 3 > (m->edge_mask + 1) * 2 && edges_grow(b) != 0) return -1;
      v = new_node(b, b->depth[u] + 1);
      if (v == ET_NO_NODE) return -1;
      edge_put_raw(m, (u << 8 | s[i]) + 1, v);
      b->n_edges++;
      b->label[v] = s[i];
      b->next_sibling[v] = b->first_child[u];
      b->first_child[u] = v;
    }
    u = v;
  }
  b->node_token[u] = id;
  return 0;
}

void et_wordpiece_free(EtWordPieceModel *m) {
  free(m->nodes);
  free(m->pops);
  free(m->edges);
  memset(m, 0, sizeof(*m));
}

static EtStatus fail(EtWordPieceModel *m, Build *b, EtError *err) {
  int too_big = m->n_nodes >= ET_MAX_NODES, too_many = b->pops_too_many;
  build_free(b);
  et_wordpiece_free(m);
  if (too_big) {
    et_set_error(err, ET_ERR_VOCAB, "vocabulary too large (more than %u trie nodes)", ET_MAX_NODES);
    return ET_ERR_VOCAB;
  }
  if (too_many) {
    et_set_error(err, ET_ERR_VOCAB, "vocabulary too large (more than %u failure pops)", ET_MAX_POPS);
    return ET_ERR_VOCAB;
  }
  et_set_error(err, ET_ERR_NO_MEMORY, "out of memory compiling the vocabulary");
  return ET_ERR_NO_MEMORY;
}

static int pops_push(Build *b, int32_t id, uint32_t end, uint32_t prev) {
  Pops *p = &b->pops;
  if (p->len == p->cap) {
    if (p->cap >= ET_MAX_POPS) {
      b->pops_too_many = 1;
      return -1;
    }
    uint32_t cap = p->cap ? (p->cap > ET_MAX_POPS / 2 ? ET_MAX_POPS : p->cap * 2) : 1024;
#if SIZE_MAX / 16 < ET_MAX_POPS /* 32-bit targets: the array's bytes may not fit size_t */
    if (cap > SIZE_MAX / sizeof(EtPop)) return -1;
#endif
    EtPop *a = realloc(p->items, (size_t)cap * sizeof(EtPop));
    if (!a) return -1;
    p->items = a;
    p->cap = cap;
  }
  EtPop *q = &p->items[p->len++];
  q->id = id;
  q->end = end;
  q->prev = prev;
  return 0;
}

/* Appends a copy of F(z) after the chain ending at *last (base: the bytes
 * that chain consumes), updating *last, *len and *base.  F(z) is read
 * backwards into scratch first, to be appended in reading order. */
static int pops_append(Build *b, uint32_t z, uint32_t *last, uint32_t *len, uint32_t *base) {
  Pops *p = &b->pops;
  uint32_t n = b->pops_len[z];
  if (n == 0) return 0;
  if (n > p->scratch_cap) {
    uint32_t *s = realloc(p->scratch, (size_t)n * sizeof(uint32_t));
    if (!s) return -1;
    p->scratch = s;
    p->scratch_cap = n;
  }
  uint32_t k = b->pops_last[z];
  for (uint32_t j = n; j-- > 0; k = p->items[k].prev) p->scratch[j] = k;
  uint32_t zbase = 0;
  for (uint32_t j = 0; j < n; j++) {
    EtPop q = p->items[p->scratch[j]];
    /* bytes of this pop alone: its end minus the end of the one before */
    uint32_t bytes = q.end - zbase;
    zbase = q.end;
    *base += bytes;
    if (pops_push(b, q.id, *base, *last) != 0) return -1;
    *last = p->len - 1;
  }
  *len += n;
  return 0;
}

/* f(v) and F(v) for every node, breadth-first over both tries at once:
 * f(v) is always shallower than v.  F(v) = F(u) + F(z) + F(f(z)) + ...
 * until z can read v's byte (u the parent, z from f(u)): the chain of F(u)
 * is shared, only the F(z) parts are new pops (linear in total, et_wordpiece.h). */
static int failure_links(Build *b) {
  EtWordPieceModel *m = b->m;
  uint32_t head = 0, tail = 0;
  b->fail_link[m->root] = ET_NO_NODE;
  b->fail_link[m->suffix_root] = ET_NO_NODE;
  b->pops_last[m->root] = b->pops_last[m->suffix_root] = ET_NO_POP;
  b->pops_len[m->root] = b->pops_len[m->suffix_root] = 0;
  b->queue[tail++] = m->root;
  b->queue[tail++] = m->suffix_root;
  while (head < tail) {
    uint32_t u = b->queue[head++];
    for (uint32_t v = b->first_child[u]; v != ET_NO_NODE; v = b->next_sibling[v]) {
      b->queue[tail++] = v;
      unsigned char c = b->label[v];
      if (b->node_token[v] >= 0) {
        if (pops_push(b, b->node_token[v], b->depth[v], ET_NO_POP) != 0) return -1;
        b->fail_link[v] = m->suffix_root;
        b->pops_last[v] = b->pops.len - 1;
        b->pops_len[v] = 1;
        continue;
      }
      uint32_t start = b->pops.len, last = b->pops_last[u], len = b->pops_len[u];
      uint32_t base = len ? b->pops.items[last].end : 0;
      uint32_t z = b->fail_link[u], target = ET_NO_NODE;
      while (z != ET_NO_NODE) {
        target = et_wp_goto(m, z, c);
        if (target != ET_NO_NODE) break;
        if (pops_append(b, z, &last, &len, &base) != 0) return -1;
        z = b->fail_link[z];
      }
      b->fail_link[v] = target;
      if (target == ET_NO_NODE) { /* matching fails from v: no pops needed */
        b->pops.len = start;
        last = ET_NO_POP;
        len = 0;
      }
      b->pops_last[v] = last;
      b->pops_len[v] = len;
    }
  }
  return 0;
}

EtStatus et_wordpiece_build(EtWordPieceModel *m, const EtVocab *vocab, const char *prefix,
                            size_t prefix_len, uint64_t seed, EtError *err) {
  memset(m, 0, sizeof(*m));
  et_wp_hash_init(m, seed);
  Build b;
  memset(&b, 0, sizeof b);
  b.m = m;
  b.cap = 1024;
  b.node_token = malloc(b.cap * sizeof(int32_t));
  b.first_child = malloc(b.cap * sizeof(uint32_t));
  b.next_sibling = malloc(b.cap * sizeof(uint32_t));
  b.depth = malloc(b.cap * sizeof(uint32_t));
  b.label = malloc(b.cap);
  m->edge_mask = 4095;
  m->edges = calloc(m->edge_mask + 1, sizeof(EtEdge));
  if (!b.node_token || !b.first_child || !b.next_sibling || !b.depth || !b.label || !m->edges)
    return fail(m, &b, err);
  m->root = new_node(&b, 0);
  m->suffix_root = new_node(&b, 0);
  for (size_t id = 0; id < vocab->n_ids; id++) {
    if (vocab->tok_off[id] == UINT32_MAX || vocab->tok_len[id] == 0) continue;
    const unsigned char *s = (const unsigned char *)vocab->bytes + vocab->tok_off[id];
    size_t n = vocab->tok_len[id];
    if (insert(&b, m->root, s, n, (int32_t)id) != 0) return fail(m, &b, err);
    if (n > prefix_len && memcmp(s, prefix, prefix_len) == 0 &&
        insert(&b, m->suffix_root, s + prefix_len, n - prefix_len, (int32_t)id) != 0)
      return fail(m, &b, err);
  }
  uint32_t nn = m->n_nodes;
  m->n_edges = (uint32_t)b.n_edges; /* nn - 2: one edge into every node but the roots */
  b.fail_link = malloc(nn * sizeof(uint32_t));
  b.pops_last = calloc(nn, sizeof(uint32_t));
  b.pops_len = calloc(nn, sizeof(uint32_t));
  b.queue = malloc(nn * sizeof(uint32_t));
  if (!b.fail_link || !b.pops_last || !b.pops_len || !b.queue || failure_links(&b) != 0)
    return fail(m, &b, err);
  /* pack into the cache-friendly layout the runtime reads */
  m->nodes = malloc(nn * sizeof(EtNode));
  if (!m->nodes) return fail(m, &b, err);
  for (uint32_t v = 0; v < nn; v++) {
    m->nodes[v].fail = b.fail_link[v];
    m->nodes[v].pops_last = b.pops_last[v];
    m->nodes[v].pops_len = b.pops_len[v];
  }
  /* the pops array is handed over as it is (shrunk to its length) */
  m->n_pops = b.pops.len;
  EtPop *pops = realloc(b.pops.items, (b.pops.len ? b.pops.len : 1) * sizeof(EtPop));
  if (!pops) return fail(m, &b, err);
  m->pops = pops;
  b.pops.items = NULL;
  for (int c = 0; c < 256; c++) {
    m->root_next[c] = et_wp_goto(m, m->root, (unsigned char)c);
    m->suffix_next[c] = et_wp_goto(m, m->suffix_root, (unsigned char)c);
  }
  build_free(&b);
  return ET_OK;
}
