/* wordpiece_builder.c: compiles a parsed vocabulary into the flat
 * EtWordPieceModel (et_wordpiece.h) and frees it.  Depends on status (and
 * reads the EtVocab arrays). */
#ifndef EDGETEXT_ET_WORDPIECE_BUILDER_H_
#define EDGETEXT_ET_WORDPIECE_BUILDER_H_

#include <stddef.h>

#include "edgetext.h"
#include "et_vocab.h"
#include "et_wordpiece.h"

/* The model of `vocab` with continuation prefix prefix[0..prefix_len), its
 * edge table hashed with the tables of seed (et_wp_hash_init).
 * ET_ERR_VOCAB when the tries need more than ET_MAX_NODES nodes,
 * ET_ERR_NO_MEMORY; on failure *model is left empty (safe to free). */
EtStatus et_wordpiece_build(EtWordPieceModel *model, const EtVocab *vocab, const char *prefix,
                            size_t prefix_len, uint64_t seed, EtError *err);
void et_wordpiece_free(EtWordPieceModel *model);

#endif /* EDGETEXT_ET_WORDPIECE_BUILDER_H_ */
