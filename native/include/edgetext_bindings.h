/*
 * edgetext_bindings.h -- entry points for language bindings (cffi, ctypes,
 * JNI), on top of edgetext.h.  They do what edgetext.h's calls do with fewer
 * arguments per call or with packed buffers, because a binding's cost grows
 * with the number of arguments it converts.  C and C++ programs should use
 * edgetext.h alone.  Same rules (errors, threads, ABI version) as edgetext.h.
 */
#ifndef EDGETEXT_BINDINGS_H_
#define EDGETEXT_BINDINGS_H_

#include "edgetext.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The arguments of et_encode_ids that stay the same from call to call, kept
 * in one caller-owned block (e.g. per thread). */
typedef struct {
  const EtTokenizer *tokenizer;
  const EtEncodeOptions *options; /* NULL: defaults */
  int32_t *ids;
  size_t capacity; /* of ids */
  size_t length;   /* out: ids of the encoding (also when larger than capacity) */
  EtError *err;    /* may be NULL */
} EtIdsCall;

/* et_encode_ids(c->tokenizer, text, text_size, c->options, c->ids, c->capacity,
 * &c->length, c->err) in one argument block.  Returns the number of ids
 * written (>= 0) on success, or -(EtStatus) on failure (e.g.
 * -ET_ERR_BUFFER_TOO_SMALL: c->length is the capacity needed). */
ET_API int64_t et_encode_ids_call(EtIdsCall *c, const char *text, size_t text_size);

/* et_encode_batch with the texts packed back to back in one buffer: text i
 * is data[bounds[i] .. bounds[i + 1]) (bounds has n + 1 entries, never
 * decreasing); likewise the pairs when pair_data is not NULL. */
ET_API EtStatus et_encode_batch_packed(const EtTokenizer *tokenizer, size_t n, const char *data,
                                       const size_t *bounds, const char *pair_data,
                                       const size_t *pair_bounds, const EtEncodeOptions *options,
                                       size_t num_threads, EtBatch **out, EtError *err);

#ifdef __cplusplus
}
#endif
#endif /* EDGETEXT_BINDINGS_H_ */
