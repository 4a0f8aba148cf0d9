/* UTF-8 decoding and encoding of one scalar value (header only).  Used by
 * every stage that reads text or token bytes. */
#ifndef EDGETEXT_ET_UTF8_H_
#define EDGETEXT_ET_UTF8_H_

#include <stddef.h>
#include <stdint.h>

/* Decode one UTF-8 scalar from s[*i..n); returns -1 on invalid input
 * (overlong, surrogate, > U+10FFFF, truncated). */
static inline int32_t et_utf8_next(const unsigned char *s, size_t n, size_t *i) {
  size_t p = *i;
  uint32_t c = s[p];
  if (c < 0x80) {
    *i = p + 1;
    return (int32_t)c;
  }
  if (c < 0xC2) return -1;
  if (c < 0xE0) {
    if (p + 1 >= n || (s[p + 1] & 0xC0) != 0x80) return -1;
    *i = p + 2;
    return (int32_t)(((c & 0x1F) << 6) | (s[p + 1] & 0x3F));
  }
  if (c < 0xF0) {
    if (p + 2 >= n || (s[p + 1] & 0xC0) != 0x80 || (s[p + 2] & 0xC0) != 0x80) return -1;
    uint32_t v = ((c & 0x0F) << 12) | ((uint32_t)(s[p + 1] & 0x3F) << 6) | (s[p + 2] & 0x3F);
    if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return -1;
    *i = p + 3;
    return (int32_t)v;
  }
  if (c < 0xF5) {
    if (p + 3 >= n || (s[p + 1] & 0xC0) != 0x80 || (s[p + 2] & 0xC0) != 0x80 ||
        (s[p + 3] & 0xC0) != 0x80)
      return -1;
    uint32_t v = ((c & 0x07) << 18) | ((uint32_t)(s[p + 1] & 0x3F) << 12) |
                 ((uint32_t)(s[p + 2] & 0x3F) << 6) | (s[p + 3] & 0x3F);
    if (v < 0x10000 || v > 0x10FFFF) return -1;
    *i = p + 4;
    return (int32_t)v;
  }
  return -1;
}

/* Encode c (a scalar value) into out[0..4); returns the bytes written. */
static inline size_t et_utf8_put(uint32_t c, unsigned char *out) {
  if (c < 0x80) {
    out[0] = (unsigned char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (unsigned char)(0xC0 | (c >> 6));
    out[1] = (unsigned char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (c >> 12));
    out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (c >> 18));
  out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (c & 0x3F));
  return 4;
}

#endif /* EDGETEXT_ET_UTF8_H_ */
