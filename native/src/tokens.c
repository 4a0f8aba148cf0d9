/* The token list's allocator (et_tokens.h).  Depends on no other unit. */
#include <stdlib.h>
#include <string.h>

#include "et_tokens.h"

int et_tokens_grow(EtTokenList *list) {
  size_t cap = list->cap ? list->cap * 2 : 64;
  if (cap > SIZE_MAX / sizeof(EtToken)) return -1;
  EtToken *items;
  if (list->items && list->items == list->inline_items) {
    items = malloc(cap * sizeof(EtToken));
    if (items) memcpy(items, list->items, list->len * sizeof(EtToken));
  } else {
    items = realloc(list->items, cap * sizeof(EtToken));
  }
  if (!items) return -1;
  list->items = items;
  list->cap = cap;
  return 0;
}
