/* Keyed hashing for the two hash tables a tokenizer builds from its
 * vocabulary (the exact-lookup map, vocab.c, and the trie's edges,
 * et_wordpiece.h).  Header only (not a unit).
 *
 * Both tables use linear probing.  With a fixed hash function an attacker
 * who writes the vocabulary can make every key land in one cluster: building
 * and every lookup of those keys become linear in the cluster, so building
 * is quadratic (tests/test_hash_flood.c crafts such vocabularies against the
 * former functions).  Every tokenizer therefore draws a 64-bit seed (from
 * the OS, or EtTokenizerOptions.hash_seed) and derives its own hash keys
 * from it:
 *   - short keys (a token of at most 8 bytes, a trie edge) are hashed by
 *     simple tabulation: one random 64-bit word per (byte position, byte
 *     value), XORed.  Linear probing with simple tabulation takes O(1)
 *     expected probes per operation for ANY set of keys (Patrascu & Thorup,
 *     "The power of simple tabulation hashing", 2012), as long as the tables
 *     are random and unknown to whoever chose the keys;
 *   - tokens longer than 8 bytes: SipHash-1-3 with a 128-bit key (a keyed
 *     pseudo-random function; what Rust's HashMap uses against hash flooding).
 * The seed changes where keys sit in the tables, never what a lookup
 * returns: tokenization and the compiled model's bytes do not depend on it. */
#ifndef EDGETEXT_ET_HASH_H_
#define EDGETEXT_ET_HASH_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* splitmix64: expands a seed into the keys and tables (Steele et al. 2014) */
static inline uint64_t et_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* MurmurHash3's finalizer (a fixed bijection: checksums, not tables) */
static inline uint64_t et_fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

static inline uint64_t et_rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

/* the 8 bytes at s as a little-endian integer, on every platform */
static inline uint64_t et_le64(const unsigned char *s) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) x |= (uint64_t)s[i] << (8 * i);
  return x;
}

#define ET_SIPROUND(v0, v1, v2, v3)                                                   \
  do {                                                                                \
    v0 += v1; v1 = et_rotl64(v1, 13); v1 ^= v0; v0 = et_rotl64(v0, 32);               \
    v2 += v3; v3 = et_rotl64(v3, 16); v3 ^= v2;                                       \
    v0 += v3; v3 = et_rotl64(v3, 21); v3 ^= v0;                                       \
    v2 += v1; v1 = et_rotl64(v1, 17); v1 ^= v2; v2 = et_rotl64(v2, 32);               \
  } while (0)

/* SipHash-1-3 of s[0..n) under the key (k0, k1) (Aumasson & Bernstein). */
static inline uint64_t et_siphash13(uint64_t k0, uint64_t k1, const unsigned char *s, size_t n) {
  uint64_t v0 = k0 ^ 0x736F6D6570736575ULL, v1 = k1 ^ 0x646F72616E646F6DULL;
  uint64_t v2 = k0 ^ 0x6C7967656E657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t m = et_le64(s + i);
    v3 ^= m;
    ET_SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t last = (uint64_t)n << 56;
  for (size_t j = 0; i + j < n; j++) last |= (uint64_t)s[i + j] << (8 * j);
  v3 ^= last;
  ET_SIPROUND(v0, v1, v2, v3);
  v0 ^= last;
  v2 ^= 0xFF;
  ET_SIPROUND(v0, v1, v2, v3);
  ET_SIPROUND(v0, v1, v2, v3);
  ET_SIPROUND(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

#endif /* EDGETEXT_ET_HASH_H_ */
