/* The compiled WordPiece model as a flat blob: what wordpiece_builder.c
 * computes, written once (e.g. by the converter, into a bundle) and read on
 * the device instead of compiling the vocabulary again.
 *
 * Layout (little-endian, no pointers, no padding; offsets in bytes):
 *    0  "EtWpMdl\3"          magic (the last byte is the format version)
 *    8  u32 n_nodes          nodes 0 (root) and 1 (suffix root) first
 *   12  u32 n_pops
 *   16  u32 n_edges          n_nodes - 2 (one edge into every other node)
 *   20  u32 reserved (0)
 *   24  u64 fingerprint      of the vocabulary and the continuation prefix
 *   32  edges[n_edges]       u32 key, u32 child (EtEdge), keys strictly increasing
 *       nodes[n_nodes]       u32 fail, u32 pops_last, u32 pops_len (EtNode)
 *       pops[n_pops]         i32 id, u32 end, u32 prev (EtPop: chains, et_wordpiece.h)
 *  end-8  u64 checksum       of everything before it
 * The edges are a sorted list, not the hash table: the loader hashes them
 * into a table of its own with its tokenizer's seed (et_hash.h), so the blob
 * does not depend on the seed and a forged blob cannot lay out a table whose
 * probes are long.  The dense root transitions are recomputed from the edges.
 * Formats 1 (flat copies of every F(v), O(L^2) for hostile vocabularies) and
 * 2 (the edge hash table as laid out by a fixed hash function) are refused as
 * unknown versions: recompile from the vocabulary.  Depends on status. */
#include <stdlib.h>
#include <string.h>

#include "et_status.h"
#include "et_wordpiece_serialize.h"

#define HEADER 32u
static const unsigned char MAGIC[8] = {'E', 't', 'W', 'p', 'M', 'd', 'l', 3};

static inline void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put64(unsigned char *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Hash of b[0..n), the same on every platform: four lanes of 8 bytes. */
static uint64_t hash_le(const unsigned char *b, size_t n, uint64_t seed) {
  uint64_t h[4] = {seed ^ n * 0x9E3779B97F4A7C15ULL, seed + 1, seed + 2, seed + 3};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; k++) {
      h[k] = (h[k] ^ get64(b + i + 8 * k)) * 0xFF51AFD7ED558CCDULL;
      h[k] ^= h[k] >> 32;
    }
  for (; i < n; i++) h[0] = (h[0] ^ b[i]) * 0xC4CEB9FE1A85EC53ULL;
  return et_fmix64(et_fmix64(h[0] ^ et_fmix64(h[1])) ^ et_fmix64(h[2] ^ et_fmix64(h[3])));
}

uint64_t et_wordpiece_blob_checksum(const unsigned char *blob, size_t size) {
  return hash_le(blob, size - 8, 0x6D6F64656C);
}

/* The model depends on the tokens (ids and bytes) and the prefix only. */
static uint64_t fingerprint(const EtVocab *v, const char *prefix, size_t prefix_len) {
  uint64_t h = hash_le((const unsigned char *)v->bytes, v->bytes_len, 0x766F636162);
  unsigned char buf[8 * 64];
  size_t k = 0;
  for (size_t id = 0; id < v->n_ids; id++) {
    put32(buf + k, v->tok_off[id]);
    put32(buf + k + 4, v->tok_len[id]);
    k += 8;
    if (k == sizeof buf || id + 1 == v->n_ids) {
      h = hash_le(buf, k, h);
      k = 0;
    }
  }
  return hash_le((const unsigned char *)prefix, prefix_len, h ^ v->n_ids);
}

size_t et_wordpiece_saved_size(const EtWordPieceModel *m) {
  return HEADER + (size_t)m->n_edges * 8 + (size_t)m->n_nodes * 12 + (size_t)m->n_pops * 12 + 8;
}

static int edge_order(const void *a, const void *b) {
  uint32_t x = get32(a), y = get32(b);
  return (x > y) - (x < y);
}

void et_wordpiece_save(const EtWordPieceModel *m, const EtVocab *vocab, const char *prefix,
                       size_t prefix_len, unsigned char *out) {
  memcpy(out, MAGIC, 8);
  put32(out + 8, m->n_nodes);
  put32(out + 12, m->n_pops);
  put32(out + 16, m->n_edges);
  put32(out + 20, 0);
  put64(out + 24, fingerprint(vocab, prefix, prefix_len));
  unsigned char *p = out + HEADER;
  for (uint64_t i = 0; i <= m->edge_mask; i++) {
    if (m->edges[i].key == 0) continue;
    put32(p, m->edges[i].key);
    put32(p + 4, m->edges[i].child);
    p += 8;
  }
  /* table order depends on the seed; key order does not */
  qsort(out + HEADER, m->n_edges, 8, edge_order);
  for (uint32_t v = 0; v < m->n_nodes; v++, p += 12) {
    put32(p, m->nodes[v].fail);
    put32(p + 4, m->nodes[v].pops_last);
    put32(p + 8, m->nodes[v].pops_len);
  }
  for (uint32_t k = 0; k < m->n_pops; k++, p += 12) {
    put32(p, (uint32_t)m->pops[k].id);
    put32(p + 4, m->pops[k].end);
    put32(p + 8, m->pops[k].prev);
  }
  size_t size = (size_t)(p - out) + 8;
  put64(p, et_wordpiece_blob_checksum(out, size));
}

static EtStatus bad(EtWordPieceModel *m, uint32_t *aux, EtError *err, const char *what) {
  free(aux); /* one block: aux and the per-pop chain lengths */
  free(m->edges);
  free(m->nodes);
  free(m->pops);
  memset(m, 0, sizeof(*m));
  et_set_error(err, ET_ERR_VOCAB, "compiled model: %s", what);
  return ET_ERR_VOCAB;
}

static EtStatus no_memory(EtWordPieceModel *m, uint32_t *aux, EtError *err) {
  bad(m, aux, NULL, "");
  et_set_error(err, ET_ERR_NO_MEMORY, "out of memory loading the compiled model");
  return ET_ERR_NO_MEMORY;
}

EtStatus et_wordpiece_load(EtWordPieceModel *m, const EtVocab *vocab, const char *prefix,
                           size_t prefix_len, const void *data, size_t size, uint64_t seed, EtError *err) {
  const unsigned char *b = data;
  memset(m, 0, sizeof(*m));
  et_wp_hash_init(m, seed);
  if (!b || size < HEADER + 8 || memcmp(b, MAGIC, 7) != 0)
    return bad(m, NULL, err, "not a compiled model (magic)");
  if (b[7] != MAGIC[7]) return bad(m, NULL, err, "unknown format version");
  uint32_t n_nodes = get32(b + 8), n_pops = get32(b + 12), n_edges = get32(b + 16);
  if (n_nodes < 2 || n_nodes > ET_MAX_NODES || n_edges != n_nodes - 2 || get32(b + 20) != 0 ||
      n_pops > ET_MAX_POPS)
    return bad(m, NULL, err, "header out of range");
  uint64_t need = (uint64_t)HEADER + (uint64_t)n_edges * 8 + (uint64_t)n_nodes * 12 + (uint64_t)n_pops * 12 + 8;
  if (need != (uint64_t)size) return bad(m, NULL, err, "size does not match its header (truncated?)");
  if (get64(b + size - 8) != et_wordpiece_blob_checksum(b, size))
    return bad(m, NULL, err, "checksum mismatch (damaged)");
  if (get64(b + 24) != fingerprint(vocab, prefix, prefix_len))
    return bad(m, NULL, err, "compiled from another vocabulary or continuing_subword_prefix");
  m->n_nodes = n_nodes;
  m->n_pops = n_pops;
  m->n_edges = n_edges;
  m->root = 0;
  m->suffix_root = 1;
  uint64_t cap = 16; /* load at most 2/3, as the builder's table */
  while (cap * 2 < (uint64_t)n_edges * 3 + 3) cap <<= 1;
  m->edge_mask = cap - 1;
  m->edges = calloc((size_t)cap, sizeof(EtEdge));
  m->nodes = malloc((size_t)n_nodes * sizeof(EtNode));
  m->pops = malloc((n_pops ? n_pops : 1) * sizeof(EtPop));
  /* aux[0..n_nodes): parent, then depth; chain[0..n_pops): length of the chain ending at each pop */
  uint32_t *aux = (size_t)n_nodes + n_pops <= SIZE_MAX / sizeof(uint32_t)
                      ? malloc(((size_t)n_nodes + n_pops) * sizeof(uint32_t)) : NULL;
  if (!m->edges || !m->nodes || !m->pops || !aux) return no_memory(m, aux, err);
  uint32_t *chain = aux + n_nodes;
  for (uint32_t v = 0; v < n_nodes; v++) aux[v] = ET_NO_NODE;
  /* edges: a tree over the nodes (one parent each, parents before
   * children), keys strictly increasing (so none twice), hashed into this
   * tokenizer's own table */
  const unsigned char *p = b + HEADER;
  uint32_t prev_key = 0;
  for (uint32_t i = 0; i < n_edges; i++, p += 8) {
    uint32_t key = get32(p), child = get32(p + 4);
    if (key <= prev_key) return bad(m, aux, err, "edges not in increasing key order");
    prev_key = key;
    uint32_t parent = (key - 1) >> 8;
    if (parent >= n_nodes || child >= n_nodes || child <= parent || child < 2 || aux[child] != ET_NO_NODE)
      return bad(m, aux, err, "edges are not a tree over the nodes");
    aux[child] = parent;
    uint64_t at = et_wp_edge_hash(m, key) & m->edge_mask;
    while (m->edges[at].key != 0) at = (at + 1) & m->edge_mask;
    m->edges[at].key = key;
    m->edges[at].child = child;
  }
  aux[0] = aux[1] = 0;
  for (uint32_t v = 2; v < n_nodes; v++) {
    if (aux[v] == ET_NO_NODE) return bad(m, aux, err, "a node no edge leads to");
    aux[v] = aux[aux[v]] + 1; /* the parent (< v) already holds its depth */
  }
  /* pops: chains that only point back (prev < k, so no cycle), each pop
   * consuming at least one byte (end above its prev's); chain[k] counts the
   * pops of the chain ending at k, so every node's F(v) is checked in O(1)
   * even where its expansion is long */
  const unsigned char *pp = p + (size_t)n_nodes * 12;
  for (uint32_t k = 0; k < n_pops; k++) {
    EtPop q = {(int32_t)get32(pp + 12 * (size_t)k), get32(pp + 12 * (size_t)k + 4),
               get32(pp + 12 * (size_t)k + 8)};
    m->pops[k] = q;
    if (q.id < 0 || (size_t)q.id >= vocab->n_ids || vocab->tok_off[q.id] == UINT32_MAX)
      return bad(m, aux, err, "a failure pop that is no token");
    if (q.prev != ET_NO_POP && q.prev >= k) return bad(m, aux, err, "failure pops that do not chain back");
    if (q.end <= (q.prev == ET_NO_POP ? 0 : m->pops[q.prev].end))
      return bad(m, aux, err, "a failure pop of no bytes");
    chain[k] = q.prev == ET_NO_POP ? 1 : chain[q.prev] + 1;
  }
  /* failure links: LinMaxMatch's invariant (bytes consumed by pops + depth
   * of the node = bytes read) holds at every step, so pops never run past
   * the word */
  for (uint32_t v = 0; v < n_nodes; v++, p += 12) {
    EtNode nd = {get32(p), get32(p + 4), get32(p + 8)};
    m->nodes[v] = nd;
    if (nd.fail == ET_NO_NODE) continue; /* its pops are never read */
    if (v < 2 || nd.fail >= n_nodes || aux[nd.fail] >= aux[v] || nd.pops_len == 0)
      return bad(m, aux, err, "a failure link that does not go back");
    if (nd.pops_last >= n_pops || chain[nd.pops_last] != nd.pops_len)
      return bad(m, aux, err, "failure pops out of range");
    if (m->pops[nd.pops_last].end != aux[v] - aux[nd.fail])
      return bad(m, aux, err, "failure pops that do not match their link");
  }
  free(aux);
  for (int c = 0; c < 256; c++) {
    m->root_next[c] = et_wp_goto(m, m->root, (unsigned char)c);
    m->suffix_next[c] = et_wp_goto(m, m->suffix_root, (unsigned char)c);
  }
  return ET_OK;
}
