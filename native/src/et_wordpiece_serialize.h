/* wordpiece_serialize.c: the compiled EtWordPieceModel as one flat,
 * position-independent little-endian blob, so a bundle can carry it and a
 * device skips the build (native/README.md has the layout).  Depends on
 * status (and reads the EtVocab arrays). */
#ifndef EDGETEXT_ET_WORDPIECE_SERIALIZE_H_
#define EDGETEXT_ET_WORDPIECE_SERIALIZE_H_

#include <stddef.h>
#include <stdint.h>

#include "edgetext.h"
#include "et_vocab.h"
#include "et_wordpiece.h"

/* Bytes of the blob of model m. */
size_t et_wordpiece_saved_size(const EtWordPieceModel *m);

/* Writes the blob of m (built from vocab with continuation prefix
 * prefix[0..prefix_len)) into out[0..et_wordpiece_saved_size(m)). */
void et_wordpiece_save(const EtWordPieceModel *m, const EtVocab *vocab, const char *prefix,
                       size_t prefix_len, unsigned char *out);

/* Reads a blob into *m (its own copy: data may be freed afterwards).  The
 * blob must be the one et_wordpiece_save wrote for this vocabulary and
 * prefix (fingerprint), intact (checksum), and structurally sound: every
 * index in range, the edges a tree, the failure pops of every node as long as
 * the bytes they consume, so that even a forged blob cannot make the runtime
 * read or write out of bounds.  The edges are hashed into a table of m's
 * own with the tables of seed (et_wp_hash_init).  ET_ERR_VOCAB (message says what is wrong) or
 * ET_ERR_NO_MEMORY; on failure *m is left empty. */
EtStatus et_wordpiece_load(EtWordPieceModel *m, const EtVocab *vocab, const char *prefix,
                           size_t prefix_len, const void *data, size_t size, uint64_t seed, EtError *err);

/* The checksum stored in the last 8 bytes of a blob of `size` bytes (over
 * the bytes before it); exposed for tests that forge blobs. */
uint64_t et_wordpiece_blob_checksum(const unsigned char *blob, size_t size);

#endif /* EDGETEXT_ET_WORDPIECE_SERIALIZE_H_ */
