/*
 * edgetext.h -- the C API of libedgetext: a BERT WordPiece tokenizer that is
 * bit-identical to Hugging Face `tokenizers` (BertNormalizer ->
 * BertPreTokenizer -> WordPiece -> [CLS] A [SEP] (B [SEP]) template), ids and
 * character offsets, built on Fast WordPiece (LinMaxMatch, arXiv 2012.15524).
 *
 * Usage:
 *
 *   EtTokenizerOptions opts;
 *   et_tokenizer_options_init(&opts);          // HF defaults (lowercase on)
 *   opts.lowercase = 0;                        // a cased vocabulary
 *   EtTokenizer *tok = NULL;
 *   EtError err;
 *   if (et_tokenizer_create_from_file("vocab.txt", &opts, &tok, &err) != ET_OK) {
 *     fprintf(stderr, "%s: %s\n", et_status_string(err.status), err.message);
 *     return 1;
 *   }
 *   EtEncodeOptions eo;
 *   et_encode_options_init(&eo);
 *   eo.max_length = 128; eo.truncation = 1; eo.padding = ET_PAD_TO_MAX_LENGTH;
 *   int32_t ids[128], types[128], mask[128], offsets[256];
 *   EtEncoding enc = {ids, types, mask, offsets, 128, 0};
 *   const char *text = "这家店的菜很好吃";
 *   if (et_encode(tok, text, strlen(text), NULL, 0, &eo, &enc, &err) == ET_OK) {
 *     // enc.length tokens: ids[i], char offsets [offsets[2i], offsets[2i+1])
 *   }
 *   et_tokenizer_delete(tok);
 *
 * Thread safety
 *   A tokenizer is immutable after creation: any number of threads may
 *   encode with one handle at the same time, with no locking.  An EtBatch is
 *   immutable after et_encode_batch returns (any thread may read it).  The
 *   library has no global mutable state; et_tokenizer_delete and
 *   et_batch_delete must not race with other uses of the same object.
 *
 * Errors
 *   Every call that can fail returns an EtStatus (ET_OK is 0).  When the
 *   optional `err` argument is not NULL it receives the status and a
 *   human-readable message.  There is no global or per-handle error state,
 *   so errors are thread-safe by construction.  Codes are grouped by range:
 *     0        success
 *     100-199  the caller's input (argument, text, buffer): fix the call
 *     200-299  the data the tokenizer is built from (vocabulary, file)
 *     300-399  resources of the machine (memory, threads): may succeed later
 *   Every code below is returned by some call; none is reserved.
 *
 * Texts
 *   UTF-8 with an explicit byte length (they need not be NUL-terminated; NUL
 *   bytes are characters).  Invalid UTF-8 is reported as ET_ERR_INVALID_UTF8,
 *   never undefined behaviour.  Offsets are character (code point) offsets
 *   into the original text, as Hugging Face's Python API reports them;
 *   special and padding tokens get (0, 0).
 *
 * ABI rules
 *  - ET_ABI_VERSION is the version of this header; et_abi_version() the
 *    version of the library at run time.  A binding checks that they match
 *    before its first call.  The version changes with every incompatible
 *    change (a field moved or removed, a status value or a signature
 *    changed); fields appended to an option struct are compatible.
 *  - Option structs start with `struct_size`, set by their *_init function
 *    (always call it, then set fields).  The library refuses a struct_size
 *    smaller than the oldest layout it reads, or larger than its own, with
 *    ET_ERR_INVALID_ARGUMENT and a message.  New fields are only ever added
 *    at the end.
 *  - Entry points meant for language bindings only (fewer arguments per
 *    call, packed buffers) are in edgetext_bindings.h, not here.
 */
#ifndef EDGETEXT_H_
#define EDGETEXT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from libedgetext.so (everything else is hidden). */
#if defined(__GNUC__)
#define ET_API __attribute__((visibility("default")))
#else
#define ET_API
#endif

#define ET_ABI_VERSION 2

/* ---- status codes and errors ---------------------------------------- */

typedef enum {
  ET_OK = 0,
  /* 1xx: the caller's input */
  ET_ERR_INVALID_ARGUMENT = 100, /* NULL pointer, bad option value, struct_size the library
                                    does not read, text longer than 512 MiB */
  ET_ERR_INVALID_UTF8 = 101,     /* a text is not valid UTF-8; the message names the byte */
  ET_ERR_BUFFER_TOO_SMALL = 102, /* EtEncoding.capacity < needed; `length` holds the need */
  /* 2xx: the data the tokenizer is built from */
  ET_ERR_VOCAB = 200,            /* empty vocabulary, a line that is not UTF-8, missing special
                                    token, too large */
  ET_ERR_IO = 201,               /* the vocabulary file cannot be opened or read */
  /* 3xx: resources */
  ET_ERR_NO_MEMORY = 300,        /* an allocation failed */
  ET_ERR_THREAD = 301            /* a worker thread of et_encode_batch could not be started */
} EtStatus;

/* Filled by failing calls when passed; `message` is always NUL-terminated. */
typedef struct {
  EtStatus status;
  char message[256];
} EtError;

/* ET_ABI_VERSION of the library that is running. */
ET_API int32_t et_abi_version(void);
/* A static, non-empty description of a status code ("unknown status" for a
 * value that is not an EtStatus). */
ET_API const char *et_status_string(EtStatus status);
/* Unicode version of the character tables (base data; see native/README.md). */
ET_API const char *et_unicode_version(void);

/* ---- the tokenizer: create, query, delete ---------------------------- */

/* Opaque handle: the compiled vocabulary and the options. */
typedef struct EtTokenizer EtTokenizer;

typedef struct {
  size_t struct_size;         /* sizeof(EtTokenizerOptions): set by et_tokenizer_options_init */
  int lowercase;              /* 1: lowercase (uncased vocabularies); default 1 */
  int strip_accents;          /* -1: follow `lowercase` (as HF); 0: keep; 1: strip */
  int tokenize_chinese_chars; /* 1: isolate CJK ideographs; default 1 */
  int clean_text;             /* 1: drop control chars, map whitespace to ' '; default 1 */
  const char *unk_token;      /* NULL means "[UNK]" (NUL-terminated UTF-8) */
  const char *cls_token;      /* NULL means "[CLS]" */
  const char *sep_token;      /* NULL means "[SEP]" */
  const char *pad_token;      /* NULL means "[PAD]"; may be absent from the vocab */
  const char *continuing_subword_prefix; /* NULL means "##" */
  size_t max_input_chars_per_word;       /* longer words become [UNK]; default 100 */
  /* NULL (default): compile the vocabulary.  Else the bytes that
   * et_tokenizer_save_model wrote for the same vocabulary and
   * continuing_subword_prefix: the model is read instead of compiled (2-3x
   * faster creation); copied, so they may be freed afterwards.  A blob that
   * is damaged, forged or from another vocabulary is ET_ERR_VOCAB. */
  const void *compiled_model;
  size_t compiled_model_size;
  /* ---- appended after ABI 2's first layout (an older struct_size leaves
   * the defaults) ---- */
  const char *mask_token; /* NULL means "[MASK]"; may be absent from the vocab */
  /* 0 (default, as Hugging Face): the special tokens unk/cls/sep/pad/mask
   * that are in the vocabulary are matched in the raw text before
   * normalization (case-sensitive, leftmost-longest; "[MASK]" -> its id,
   * "[mask]" is text) and the text between them is tokenized as usual.
   * 1: they are ordinary text (transformers' split_special_tokens=True). */
  int split_special_tokens;
  /* Seed of the keyed hashes of the vocabulary's lookup map and the trie's
   * edges (native/README.md, "Hash flooding"): a vocabulary crafted to
   * collide cannot know it.  0 (default): drawn from the OS (getrandom, else
   * /dev/urandom) at every creation.  Tokenization and saved models do not
   * depend on it; set it only to reproduce a table layout (tests). */
  uint64_t hash_seed;
} EtTokenizerOptions;

/* Sets struct_size and Hugging Face's BertWordPiece defaults. */
ET_API void et_tokenizer_options_init(EtTokenizerOptions *options);

/* One token per line (vocab.txt); the id of a token is its line number
 * (HF's rules: trailing whitespace trimmed, the last duplicate wins).
 * `options` may be NULL (defaults).  On failure *out is NULL. */
ET_API EtStatus et_tokenizer_create_from_file(const char *path, const EtTokenizerOptions *options,
                                              EtTokenizer **out, EtError *err);
ET_API EtStatus et_tokenizer_create_from_buffer(const char *data, size_t size,
                                                const EtTokenizerOptions *options,
                                                EtTokenizer **out, EtError *err);
/* NULL is ignored. */
ET_API void et_tokenizer_delete(EtTokenizer *tokenizer);

/* The compiled WordPiece model as one flat, position-independent,
 * little-endian blob (layout in native/README.md), for
 * EtTokenizerOptions.compiled_model: a bundle can carry it so a device skips
 * the build.  Writes it when capacity >= *size (buffer may be NULL to ask
 * the size); *size = the bytes needed; ET_ERR_BUFFER_TOO_SMALL otherwise. */
ET_API EtStatus et_tokenizer_save_model(const EtTokenizer *tokenizer, void *buffer, size_t capacity,
                                        size_t *size, EtError *err);

/* Distinct tokens (HF's vocab size). */
ET_API size_t et_tokenizer_vocab_size(const EtTokenizer *tokenizer);
/* Id of a token (exact bytes), or -1. */
ET_API int32_t et_tokenizer_token_to_id(const EtTokenizer *tokenizer, const char *token,
                                        size_t size);
/* Bytes of the token with this id (not NUL-terminated) or NULL; *size gets its length. */
ET_API const char *et_tokenizer_id_to_token(const EtTokenizer *tokenizer, int32_t id,
                                            size_t *size);
/* Ids of the special tokens (-1 for a pad token missing from the vocabulary). */
ET_API int32_t et_tokenizer_unk_id(const EtTokenizer *tokenizer);
ET_API int32_t et_tokenizer_cls_id(const EtTokenizer *tokenizer);
ET_API int32_t et_tokenizer_sep_id(const EtTokenizer *tokenizer);
ET_API int32_t et_tokenizer_pad_id(const EtTokenizer *tokenizer);

/* ---- encoding one text or pair --------------------------------------- */

typedef enum { ET_PAD_NONE = 0, ET_PAD_TO_MAX_LENGTH = 1 } EtPadding;

typedef struct {
  size_t struct_size;     /* sizeof(EtEncodeOptions): set by et_encode_options_init */
  size_t max_length;      /* 0: no limit */
  int truncation;         /* 1: truncate to max_length (longest-first for pairs); as HF,
                             nothing is cut when max_length < the special tokens (2 or 3) */
  EtPadding padding;      /* ET_PAD_TO_MAX_LENGTH pads up to max_length */
  int add_special_tokens; /* 1: [CLS] A [SEP] (B [SEP]); default 1 */
} EtEncodeOptions;

/* Sets struct_size and the defaults (no limit, no padding, special tokens). */
ET_API void et_encode_options_init(EtEncodeOptions *options);

/* Caller-owned output buffers.  `ids` is required; the others may be NULL.
 * `offsets` holds 2 * capacity values (start, end pairs). */
typedef struct {
  int32_t *ids;
  int32_t *type_ids;
  int32_t *attention_mask;
  int32_t *offsets;
  size_t capacity; /* in tokens */
  size_t length;   /* out: tokens written, or tokens needed on ET_ERR_BUFFER_TOO_SMALL */
} EtEncoding;

/* Encode one text, or a pair when `pair` is not NULL.  `options` may be NULL
 * (defaults). */
ET_API EtStatus et_encode(const EtTokenizer *tokenizer, const char *text, size_t text_size,
                          const char *pair, size_t pair_size, const EtEncodeOptions *options,
                          EtEncoding *out, EtError *err);

/* Ids only: writes up to `capacity` ids and sets *length to the number of
 * ids of the encoding (ET_ERR_BUFFER_TOO_SMALL when it exceeds capacity). */
ET_API EtStatus et_encode_ids(const EtTokenizer *tokenizer, const char *text, size_t text_size,
                              const EtEncodeOptions *options, int32_t *ids, size_t capacity,
                              size_t *length, EtError *err);

/* ---- encoding a batch ------------------------------------------------ */

/* Batch results: ragged rows, owned by the library. */
typedef struct EtBatch EtBatch;

/* Encode n texts (and n pairs when `pairs` is not NULL; a NULL pair is "")
 * with up to `num_threads` threads (0: one per CPU, capped by n).  On error
 * *out is NULL and err names the first failing text.  Rows are not padded
 * (options->padding is ignored): et_batch_fill_* pads to the width you
 * choose. */
ET_API EtStatus et_encode_batch(const EtTokenizer *tokenizer, size_t n, const char *const *texts,
                                const size_t *text_sizes, const char *const *pairs,
                                const size_t *pair_sizes, const EtEncodeOptions *options,
                                size_t num_threads, EtBatch **out, EtError *err);
ET_API size_t et_batch_size(const EtBatch *batch);
ET_API size_t et_batch_total_tokens(const EtBatch *batch);
ET_API size_t et_batch_max_length(const EtBatch *batch);
/* Row i: its length and pointers into the batch (valid until et_batch_delete). */
ET_API size_t et_batch_row(const EtBatch *batch, size_t i, const int32_t **ids,
                           const int32_t **type_ids, const int32_t **offsets);
/* All ids concatenated (et_batch_total_tokens values), and row starts (n + 1). */
ET_API const int32_t *et_batch_all_ids(const EtBatch *batch);
ET_API const size_t *et_batch_row_starts(const EtBatch *batch);
/* Copy into dense [n, width] matrices (right padding: pad id, type 0, mask 0,
 * offsets (0, 0)); rows longer than width are cut.  Any output may be NULL.
 * `offsets` is [n, width, 2]. */
ET_API void et_batch_fill_i64(const EtBatch *batch, size_t width, int64_t *ids, int64_t *type_ids,
                              int64_t *attention_mask, int64_t *offsets);
ET_API void et_batch_fill_i32(const EtBatch *batch, size_t width, int32_t *ids, int32_t *type_ids,
                              int32_t *attention_mask, int32_t *offsets);
/* NULL is ignored. */
ET_API void et_batch_delete(EtBatch *batch);

#ifdef __cplusplus
}
#endif
#endif /* EDGETEXT_H_ */
