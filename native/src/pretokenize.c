/* HF tokenizers' BertNormalizer and BertPreTokenizer stages on one text;
 * every pre-token (word) is handed to the WordPiece model (wordpiece.c) as
 * soon as it ends, and its tokens go straight into the sequence's list.
 *
 * Fast path (fused, one pass): every character goes through clean_text,
 * handle_chinese_chars, NFD + Mn removal, lowercase and the pre-tokenizer
 * as it is decoded; ASCII through one table.  Single-character pre-tokens
 * that are isolated anyway (ASCII punctuation, CJK ideographs) are looked up
 * here directly.  It gives up (and the general path below redoes the text)
 * only when strip_accents meets combining marks out of canonical order,
 * which needs reordering.
 *
 * General path.  Pass 1 (per original character, in order; HF applies the same per-char
 *   steps to the whole string): clean_text (drop U+0000, U+FFFD, Cc/Cf/Co;
 *   whitespace -> ' '), handle_chinese_chars (' ' c ' '), and for
 *   strip_accents the canonical decomposition (NFD).  Each normalized char
 *   remembers the original char it came from (all of HF's alignments for these
 *   steps point at exactly one original char).
 * Pass 2 (strip_accents only, when needed): canonical reordering of
 *   combining-mark runs, then removal of Mn.
 * Pass 3: lowercase (per char, may expand: U+0130 -> i U+0307), split on
 *   White_Space, isolate punctuation, WordPiece each word.
 *
 * Stopping early: with a token budget (truncation), only a prefix of the
 * text that holds that many tokens is tokenized (et_tokenize_sequence).
 *
 * Depends on status, tokens and wordpiece.
 */
#include <stdlib.h>
#include <string.h>

#include "et_pretokenize.h"
#include "et_status.h"
#include "et_tokenizer.h"
#include "et_tokens.h"
#include "et_utf8.h"
#include "et_wordpiece.h"
#include "unicode_tables.h"

#define HANGUL_S 0xAC00u
#define HANGUL_COUNT 11172u

typedef struct {
  uint32_t *cp, *org;
  size_t len;
} NormBuf;

const char *et_unicode_version(void) { return ET_UNICODE_VERSION; }

/* In the general path's buffer (strip_accents), bit 31 of a code point
 * marks a char NFD inserted (the second and later chars of a decomposition),
 * as HF's changes of +1; the first char of each decomposition (change 0)
 * stands for its original char. */
#define CP_INSERTED 0x80000000u
#define CP_MASK 0x7FFFFFFFu

static inline uint8_t ccc_of(uint32_t cp) { return et_uprop_of(cp & CP_MASK)->ccc; }

/* Canonical ordering: stable sort of each run of non-starters by ccc.
 *
 * Alignments follow HF (unicode-normalization-alignments + NormalizedString
 * transform): each char carries its change while it moves; afterwards the
 * chars are read in order, a change-0 char takes the alignment of the next
 * original char, an inserted one that of the last original char taken.  So
 * "a" U+0301 U+302F (3 chars) and "á" U+302F (2 chars: a, U+0301 inserted)
 * both put U+302F on its own original char after it moves before U+0301.
 *
 * Linear: a short run (the usual one or two marks) by insertion sort, a
 * longer one by a stable counting sort over the 255 classes, so a flood of
 * marks out of order ("a" + U+0301 * n + U+0316 * n) costs O(n), not the
 * O(n^2) of insertion sort on the whole run.  Returns 0, or -1 when out of
 * memory (scratch for long runs, allocated on the first one). */
#define REORDER_INSERTION_MAX 32

static int reorder(NormBuf *nb) {
  uint32_t *scratch = NULL; /* [0, len): sorted chars; [len, 2 len): alignments taken */
  uint32_t local[REORDER_INSERTION_MAX];
  size_t i = 0;
  while (i < nb->len) {
    if (ccc_of(nb->cp[i]) == 0) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < nb->len && ccc_of(nb->cp[j]) != 0) j++;
    size_t n = j - i;
    if (n > REORDER_INSERTION_MAX && !scratch) {
      if (nb->len > SIZE_MAX / (2 * sizeof(uint32_t))) return -1;
      scratch = malloc(2 * nb->len * sizeof(uint32_t)); /* any run fits */
      if (!scratch) return -1;
    }
    /* the alignments of the run's original chars, in order */
    uint32_t *taken = n <= REORDER_INSERTION_MAX ? local : scratch + nb->len;
    size_t q = 0;
    for (size_t a = i; a < j; a++)
      if (!(nb->cp[a] & CP_INSERTED)) taken[q++] = nb->org[a];
    if (n <= REORDER_INSERTION_MAX) {
      for (size_t a = i + 1; a < j; a++) { /* insertion sort, stable */
        uint32_t c = nb->cp[a];
        uint8_t k = ccc_of(c);
        size_t b = a;
        while (b > i && ccc_of(nb->cp[b - 1]) > k) {
          nb->cp[b] = nb->cp[b - 1];
          b--;
        }
        nb->cp[b] = c;
      }
    } else {
      size_t start[256] = {0}; /* counts, then each class's next slot */
      for (size_t a = i; a < j; a++) start[ccc_of(nb->cp[a])]++;
      size_t at = 0;
      for (int k = 0; k < 256; k++) {
        size_t c = start[k];
        start[k] = at;
        at += c;
      }
      for (size_t a = i; a < j; a++) scratch[start[ccc_of(nb->cp[a])]++] = nb->cp[a];
      memcpy(nb->cp + i, scratch, n * sizeof(uint32_t));
    }
    /* the last original char taken before the run: the char before it
     * (a starter; a run at the very start begins with a change-0 char,
     * since a decomposition is in canonical order itself) */
    uint32_t last = i > 0 ? nb->org[i - 1] : nb->org[i];
    q = 0;
    for (size_t a = i; a < j; a++) {
      if (!(nb->cp[a] & CP_INSERTED)) last = taken[q++];
      nb->org[a] = last;
    }
    i = j;
  }
  free(scratch);
  return 0;
}

/* End the current word, if any (most calls find none: runs of spaces and
 * punctuation). */
static inline int flush(EtWord *w) { return w->nchars ? et_wordpiece_word(w) : 0; }

static inline void add_char(EtWord *w, uint32_t c, uint32_t org) {
  if (w->nchars == 0) {
    w->first_orig = org;
    w->first_cp = c;
    w->lazy = 0;
  } else if (w->lazy) {
    et_word_materialize(w);
  }
  w->last_orig = org;
  if (w->nchars < w->cap_chars) {
    size_t k = et_utf8_put(c, w->bytes + w->nbytes);
    for (size_t b = 0; b < k; b++) w->char_of_byte[w->nbytes + b] = (uint32_t)w->nchars;
    w->orig[w->nchars] = org;
    w->nbytes += k;
  }
  w->nchars++;
}

/* The run of ASCII word characters starting at s[i] (itself one, any byte
 * value, original char org): lowercase them into the word, return where the
 * run ends (the first byte with word_byte 0). */
static inline size_t add_ascii_run(EtWord *w, const unsigned char *s, size_t i, size_t size,
                                   uint32_t org, const EtTokenizer *tok) {
  const unsigned char *wb = tok->word_byte;
  unsigned char c0 = tok->ascii_lower[s[i]];
  if (w->nchars == 0) {
    w->first_orig = org;
    w->first_cp = c0;
    w->lazy = 1;
  }
  size_t room = w->cap_chars > w->nchars ? w->cap_chars - w->nchars : 0;
  size_t j = i + 1;
  if (room) {
    size_t at = w->nbytes;
    if (w->lazy && org != w->first_orig + (uint32_t)at) et_word_materialize(w); /* a removed char in between */
    unsigned char *dst = w->bytes + at; /* dst[j - i]: where s[j] goes */
    size_t lim = size - i < room ? size : i + room;
    dst[0] = c0;
    unsigned char c;
    while (j < lim && (c = wb[s[j]]) != 0) {
      dst[j - i] = c;
      j++;
    }
    size_t stored = j - i;
    if (!w->lazy) {
      for (size_t q = 0; q < stored; q++) {
        w->char_of_byte[at + q] = (uint32_t)(w->nchars + q);
        w->orig[w->nchars + q] = org + (uint32_t)q;
      }
    }
    w->nbytes = at + stored;
  }
  while (j < size && wb[s[j]] != 0) j++; /* beyond the stored characters: counted only */
  w->last_orig = org + (uint32_t)(j - i - 1);
  w->nchars += j - i;
  return j;
}

/* a one-character word that is isolated anyway (punctuation, CJK) */
static inline int single(EtWord *w, uint32_t c, uint32_t org) {
  if (flush(w) != 0) return -1;
  add_char(w, c, org);
  return flush(w);
}

/* the pre-tokenizer on one normalized character */
static inline int pretokenize_char(EtWord *w, uint32_t c, uint32_t org) {
  uint8_t f = et_uprop_of(c)->flags;
  if (f & ET_UF_WS) return flush(w);
  if (f & ET_UF_PUNCT) return single(w, c, org);
  add_char(w, c, org);
  return 0;
}

/* lowercase, then the pre-tokenizer */
static inline int feed(EtWord *w, uint32_t c, uint32_t org) {
  if (w->tok->lowercase) {
    const et_uprop *p = et_uprop_of(c);
    if (p->lower_len) {
      int rc = 0;
      for (size_t q = 0; q < p->lower_len && rc == 0; q++)
        rc = pretokenize_char(w, et_useq[p->lower_off + q], org);
      return rc;
    }
  }
  return pretokenize_char(w, c, org);
}

enum { FUSED_OK = 0, FUSED_OOM = -1, FUSED_BAD_UTF8 = -2, FUSED_NEEDS_REORDER = -3 };

/* s[i..size) is valid UTF-8, else *bad_at = its first bad byte: what the
 * full pass would report, so stopping early changes no status. */
int et_utf8_rest_ok(const unsigned char *s, size_t size, size_t i, size_t *bad_at) {
  while (i < size) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t at = i;
    if (et_utf8_next(s, size, &i) < 0) {
      *bad_at = at;
      return 0;
    }
  }
  return 1;
}

static int run_fused(const EtTokenizer *tok, const unsigned char *s, size_t size, EtWord *w,
                     size_t *bad_at) {
  const int strip = tok->strip_accents, clean = tok->clean_text, chinese = tok->chinese;
  const uint8_t *acls = tok->ascii_class;
  uint8_t last_ccc = 0;
  uint32_t k = 0;
  size_t i = 0;
  while (i < size) {
    unsigned char b = s[i];
    if (b < 0x80) {
      i++;
      uint8_t cl = acls[b];
      if (cl == ET_ASCII_WORD) {
        size_t end = add_ascii_run(w, s, i - 1, size, k, tok);
        k += (uint32_t)(end - i);
        i = end;
      } else if (cl == ET_ASCII_SPLIT) {
        if (flush(w) != 0) return FUSED_OOM;
      } else if (cl == ET_ASCII_PUNCT) {
        if (flush(w) != 0) return FUSED_OOM;
        int32_t id = tok->bmp_token[b];
        if (et_tokens_push(w->out, id >= 0 ? id : tok->unk_id, k, k + 1) != 0) return FUSED_OOM;
      } /* ET_ASCII_REMOVE: dropped */
      last_ccc = 0;
      k++;
      continue;
    }
    size_t at = i;
    int32_t sc = et_utf8_next(s, size, &i);
    if (sc < 0) {
      *bad_at = at;
      return FUSED_BAD_UTF8;
    }
    uint32_t c = (uint32_t)sc;
    const et_uprop *p = et_uprop_of(c);
    if (clean) {
      if (p->flags & ET_UF_REMOVE) {
        k++;
        continue;
      }
      if (p->flags & ET_UF_SPACE) {
        if (flush(w) != 0) return FUSED_OOM;
        last_ccc = 0;
        k++;
        continue;
      }
    }
    int rc = 0;
    if (chinese && (p->flags & ET_UF_CJK)) {
      /* ' ' c ' ': c is a word of its own (NFD maps compatibility ideographs
       * to one unified ideograph; ideographs have no case) */
      uint32_t d = (strip && p->nfd_len == 1) ? et_useq[p->nfd_off] : c;
      if (strip && p->nfd_len > 1) return FUSED_NEEDS_REORDER; /* not in any data: be safe */
      if (d < 0x10000u) {
        rc = flush(w);
        int32_t id = tok->bmp_token[d];
        if (rc == 0) rc = et_tokens_push(w->out, id >= 0 ? id : tok->unk_id, k, k + 1);
      } else {
        rc = single(w, d, k);
      }
      last_ccc = 0;
    } else if (strip) {
      if (c - HANGUL_S < HANGUL_COUNT) {
        uint32_t x = c - HANGUL_S;
        rc = feed(w, 0x1100u + x / 588u, k);
        if (rc == 0) rc = feed(w, 0x1161u + (x % 588u) / 28u, k);
        if (rc == 0 && x % 28u) rc = feed(w, 0x11A7u + x % 28u, k);
        last_ccc = 0;
      } else if (p->nfd_len == 0) {
        if (p->ccc != 0 && last_ccc > p->ccc) return FUSED_NEEDS_REORDER;
        last_ccc = p->ccc;
        if (!(p->flags & ET_UF_MN)) rc = feed(w, c, k);
      } else {
        for (size_t j = 0; j < p->nfd_len && rc == 0; j++) {
          uint32_t q = et_useq[p->nfd_off + j];
          const et_uprop *qp = et_uprop_of(q);
          if (qp->ccc != 0 && last_ccc > qp->ccc) return FUSED_NEEDS_REORDER;
          last_ccc = qp->ccc;
          if (!(qp->flags & ET_UF_MN)) rc = feed(w, q, k);
        }
      }
    } else {
      rc = feed(w, c, k);
    }
    if (rc != 0) return FUSED_OOM;
    k++;
  }
  return flush(w) != 0 ? FUSED_OOM : FUSED_OK;
}

/* General path: passes 1-3 over a buffer of normalized characters. */
static EtStatus run_general(const EtTokenizer *tok, const unsigned char *s, size_t size, EtWord *w,
                            EtError *err) {
  int strip = tok->strip_accents;
  size_t cap = size * 4 + 4; /* normalized chars: at most 4 per input byte (gen_unicode_tables.py) */
  NormBuf nb;
  uint32_t *heap = cap <= SIZE_MAX / (2 * sizeof(uint32_t)) ? malloc(cap * 2 * sizeof(uint32_t)) : NULL;
  if (!heap) {
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
    return ET_ERR_NO_MEMORY;
  }
  nb.cp = heap;
  nb.org = heap + cap;
  nb.len = 0;
  int need_reorder = 0, any_mn = 0;
  uint8_t last_ccc = 0;
  size_t i = 0;
  uint32_t k = 0; /* original char index */
  EtStatus st = ET_OK;
  while (i < size) {
    size_t at = i;
    int32_t sc = et_utf8_next(s, size, &i);
    if (sc < 0) {
      et_set_error(err, ET_ERR_INVALID_UTF8, "invalid UTF-8 at byte %zu", at);
      st = ET_ERR_INVALID_UTF8;
      goto done;
    }
    uint32_t c = (uint32_t)sc;
    const et_uprop *p = et_uprop_of(c);
    if (tok->clean_text) {
      if (p->flags & ET_UF_REMOVE) {
        k++;
        continue;
      }
      if (p->flags & ET_UF_SPACE) {
        c = ' ';
        p = et_uprop_of(c);
      }
    }
    int cjk = tok->chinese && (p->flags & ET_UF_CJK);
    if (cjk) {
      nb.cp[nb.len] = ' ';
      nb.org[nb.len++] = k;
      last_ccc = 0;
    }
    if (strip) { /* NFD (CJK compatibility ideographs decompose too) */
      if (c - HANGUL_S < HANGUL_COUNT) {
        uint32_t x = c - HANGUL_S;
        nb.cp[nb.len] = 0x1100u + x / 588u;
        nb.org[nb.len++] = k;
        nb.cp[nb.len] = 0x1161u + (x % 588u) / 28u;
        nb.org[nb.len++] = k;
        if (x % 28u) {
          nb.cp[nb.len] = 0x11A7u + x % 28u;
          nb.org[nb.len++] = k;
        }
        last_ccc = 0;
      } else {
        const uint32_t *seq = p->nfd_len ? &et_useq[p->nfd_off] : &c;
        size_t n = p->nfd_len ? p->nfd_len : 1;
        for (size_t j = 0; j < n; j++) {
          const et_uprop *q = et_uprop_of(seq[j]);
          if (q->ccc != 0 && last_ccc > q->ccc) need_reorder = 1;
          if (q->flags & ET_UF_MN) any_mn = 1;
          last_ccc = q->ccc;
          nb.cp[nb.len] = seq[j] | (j ? CP_INSERTED : 0); /* for reorder's alignments */
          nb.org[nb.len++] = k;
        }
      }
    } else {
      nb.cp[nb.len] = c;
      nb.org[nb.len++] = k;
    }
    if (cjk) {
      nb.cp[nb.len] = ' ';
      nb.org[nb.len++] = k;
      last_ccc = 0;
    }
    k++;
  }
  /* pass 2 */
  if (need_reorder && reorder(&nb) != 0) {
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
    st = ET_ERR_NO_MEMORY;
    goto done;
  }
  if (any_mn) {
    size_t o = 0;
    for (size_t j = 0; j < nb.len; j++) {
      if (et_uprop_of(nb.cp[j] & CP_MASK)->flags & ET_UF_MN) continue;
      nb.cp[o] = nb.cp[j];
      nb.org[o++] = nb.org[j];
    }
    nb.len = o;
  }
  /* pass 3 */
  {
    int rc = 0;
    for (size_t j = 0; j < nb.len && rc == 0; j++) rc = feed(w, nb.cp[j] & CP_MASK, nb.org[j]);
    if (rc == 0) rc = flush(w);
    if (rc != 0) {
      et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
      st = ET_ERR_NO_MEMORY;
    }
  }
done:
  free(heap);
  return st;
}

/* The whole pipeline on s[0..size). */
static EtStatus tokenize_all(const EtTokenizer *tok, const unsigned char *s, size_t size, EtTokenList *out,
                             EtError *err) {
  /* word buffers: at most max_input_chars_per_word characters are kept
   * (longer words only need their count), 4 bytes each */
  size_t cap_chars = tok->max_chars_per_word;
  if (cap_chars > size * 4) cap_chars = size * 4;
  cap_chars += 1;
  unsigned char wbytes[4 * 128];
  uint32_t wcob[4 * 128 + 1], worig[128];
  EtWord w = {tok, out, wbytes, wcob, worig, 0, 0, 128, 0, 0, 0, 0};
  memset(wbytes, 0, 8); /* word_inline reads 8 bytes (and masks) */
  void *wheap = NULL;
  if (cap_chars > 128) {
    /* bytes (4 per char), char_of_byte (4 per char + 1), orig (1 per char) */
    if (cap_chars > (SIZE_MAX - sizeof(uint32_t)) / (4 + 5 * sizeof(uint32_t))) {
      et_set_error(err, ET_ERR_NO_MEMORY, "out of memory (word buffer of %zu chars)", cap_chars);
      return ET_ERR_NO_MEMORY;
    }
    wheap = malloc(cap_chars * 4 + (cap_chars * 4 + 1) * sizeof(uint32_t) + cap_chars * sizeof(uint32_t));
    if (!wheap) {
      et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
      return ET_ERR_NO_MEMORY;
    }
    w.char_of_byte = (uint32_t *)wheap;
    w.orig = w.char_of_byte + cap_chars * 4 + 1;
    w.bytes = (unsigned char *)(w.orig + cap_chars);
    w.cap_chars = cap_chars;
    memset(w.bytes, 0, 8);
  }
  size_t mark = out->len, bad_at = 0;
  EtStatus st = ET_OK;
  int rc = run_fused(tok, s, size, &w, &bad_at);
  if (rc == FUSED_NEEDS_REORDER) {
    out->len = mark;
    w.nchars = 0;
    w.nbytes = 0;
    st = run_general(tok, s, size, &w, err);
  } else if (rc == FUSED_BAD_UTF8) {
    et_set_error(err, ET_ERR_INVALID_UTF8, "invalid UTF-8 at byte %zu", bad_at);
    st = ET_ERR_INVALID_UTF8;
  } else if (rc == FUSED_OOM) {
    et_set_error(err, ET_ERR_NO_MEMORY, "out of memory");
    st = ET_ERR_NO_MEMORY;
  }
  free(wheap);
  return st;
}

/* Whether the text may be cut just before the char at s[i] (a lead byte)
 * without changing the tokens before it: a char that ends the word in
 * progress in every path (whitespace, punctuation, an isolated CJK
 * ideograph), is a starter (ccc 0: no canonical reordering reaches across
 * it; no non-starter has these properties, gen_unicode_tables.py data), and
 * is not changed into something else by NFD or lowercasing. */
static int is_cut_point(const EtTokenizer *tok, const unsigned char *s, size_t size, size_t i) {
  if (s[i] < 0x80) {
    uint8_t cl = tok->ascii_class[s[i]];
    return cl == ET_ASCII_SPLIT || cl == ET_ASCII_PUNCT;
  }
  size_t j = i;
  int32_t c = et_utf8_next(s, size, &j);
  if (c < 0) return 0;
  const et_uprop *p = et_uprop_of((uint32_t)c);
  if (p->ccc != 0 || p->lower_len != 0 || (tok->strip_accents && p->nfd_len != 0)) return 0;
  if (tok->clean_text && (p->flags & ET_UF_REMOVE)) return 0;
  return (p->flags & (ET_UF_WS | ET_UF_PUNCT)) || (tok->clean_text && (p->flags & ET_UF_SPACE)) ||
         (tok->chinese && (p->flags & ET_UF_CJK));
}

/* The first cut point at or after byte `from` (scanning at most `window`
 * bytes), or size when there is none. */
static size_t find_cut(const EtTokenizer *tok, const unsigned char *s, size_t size, size_t from, size_t window) {
  size_t end = size - from > window ? from + window : size;
  for (size_t i = from; i < end; i++)
    if ((s[i] & 0xC0) != 0x80 && is_cut_point(tok, s, size, i)) return i;
  return size;
}

/* Stopping early (truncation): rather than a test per character in the hot
 * loops, the text is tokenized up to a cut point (is_cut_point) past a
 * guess of the bytes max_tokens tokens need; the tokens of that prefix are
 * exactly the first tokens of the whole text.  Enough of them: done, once
 * the rest is checked to be UTF-8 (same status and message as the full
 * pass).  Too few: retry with a 4x longer prefix (the work stays within a
 * constant of the prefix finally needed), or tokenize everything when no cut
 * point is found. */
#define PREFIX_BYTES_PER_TOKEN 16u
#define PREFIX_MIN 1024u
#define CUT_WINDOW 4096u

EtStatus et_tokenize_sequence(const EtTokenizer *tok, const char *text, size_t size,
                              size_t max_tokens, EtTokenList *out, EtError *err) {
  if (size > (UINT32_MAX / 8)) {
    et_set_error(err, ET_ERR_INVALID_ARGUMENT, "text too long (%zu bytes)", size);
    return ET_ERR_INVALID_ARGUMENT;
  }
  const unsigned char *s = (const unsigned char *)text;
  size_t mark = out->len;
  if (max_tokens == 0) { /* nothing is kept: only the status matters */
    size_t bad_at = 0;
    if (et_utf8_rest_ok(s, size, 0, &bad_at)) return ET_OK;
    et_set_error(err, ET_ERR_INVALID_UTF8, "invalid UTF-8 at byte %zu", bad_at);
    return ET_ERR_INVALID_UTF8;
  }
  if (size > PREFIX_MIN && max_tokens < size / PREFIX_BYTES_PER_TOKEN) {
    size_t want = max_tokens * PREFIX_BYTES_PER_TOKEN + PREFIX_MIN;
    while (want < size) {
      size_t cut = find_cut(tok, s, size, want, CUT_WINDOW);
      if (cut >= size) break;
      out->len = mark;
      EtStatus st = tokenize_all(tok, s, cut, out, err);
      if (st != ET_OK) return st; /* the first error of the whole text too */
      if (out->len - mark >= max_tokens) {
        size_t bad_at = 0;
        if (et_utf8_rest_ok(s, size, cut, &bad_at)) return ET_OK;
        out->len = mark;
        et_set_error(err, ET_ERR_INVALID_UTF8, "invalid UTF-8 at byte %zu", bad_at);
        return ET_ERR_INVALID_UTF8;
      }
      want = want < SIZE_MAX / 4 ? want * 4 : SIZE_MAX;
    }
    out->len = mark;
  }
  return tokenize_all(tok, s, size, out, err);
}
