/* tokens.c: the growable token list every stage appends to (one sequence's
 * tokens: id and character offsets into the original text).  Depends on
 * nothing. */
#ifndef EDGETEXT_ET_TOKENS_H_
#define EDGETEXT_ET_TOKENS_H_

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
  int32_t id;
  uint32_t start, end;
} EtToken;

typedef struct {
  EtToken *items;
  size_t len, cap;
  EtToken *inline_items; /* caller storage used before the first heap allocation (may be NULL) */
} EtTokenList;

/* Frees the heap storage (never the caller's inline storage). */
static inline void et_tokens_release(EtTokenList *l) {
  if (l->items != l->inline_items) free(l->items);
  l->items = NULL;
}

/* Doubles the capacity (64 at first), moving off the inline storage;
 * returns 0, or -1 when out of memory (the list is unchanged). */
int et_tokens_grow(EtTokenList *list);

/* Appends one token; returns 0, or -1 when out of memory. */
static inline int et_tokens_push(EtTokenList *list, int32_t id, uint32_t start, uint32_t end) {
  if (list->len == list->cap && et_tokens_grow(list) != 0) return -1;
  EtToken *t = &list->items[list->len++];
  t->id = id;
  t->start = start;
  t->end = end;
  return 0;
}

#endif /* EDGETEXT_ET_TOKENS_H_ */
