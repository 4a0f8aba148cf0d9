/*
 * edgetext.h -- the C ABI of libedgetext: a BERT WordPiece tokenizer that is
 * bit-identical to Hugging Face `tokenizers` (BertNormalizer +
 * BertPreTokenizer + WordPiece + [CLS]/[SEP] template), built on Fast
 * WordPiece (LinMaxMatch, arXiv 2012.15524).
 *
 * Usage:
 *
 *   EtTokenizerOptions opts;
 *   et_tokenizer_options_init(&opts);          // lowercase on, HF defaults
 *   EtTokenizer *tok = NULL;
 *   EtError err;
 *   if (et_tokenizer_create_from_file("vocab.txt", &opts, &tok, &err) != ET_OK) {
 *     fprintf(stderr, "%s\n", err.message);
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
 * Rules of the ABI
 *  - Every function that can fail returns an EtStatus; ET_OK is 0.  When the
 *    optional `err` argument is not NULL it receives the status and a
 *    human-readable message.  There is no global or per-handle error state,
 *    so errors are thread-safe by construction.
 *  - Texts are UTF-8 with an explicit byte length (they need not be
 *    NUL-terminated; NUL bytes are characters).  Invalid UTF-8 is reported as
 *    ET_ERR_INVALID_UTF8, never undefined behaviour.
 *  - A tokenizer is immutable after creation: any number of threads may
 *    encode with the same handle at the same time.
 *  - Offsets are character (code point) offsets into the original text, as
 *    Hugging Face's Python API reports them; special and padding tokens get
 *    (0, 0).
 */
#ifndef EDGETEXT_H_
#define EDGETEXT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGETEXT_ABI_VERSION 1

typedef enum {
  ET_OK = 0,
  ET_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, bad option value */
  ET_ERR_INVALID_UTF8 = 2,     /* a text or the vocabulary is not valid UTF-8 */
  ET_ERR_NO_MEMORY = 3,
  ET_ERR_IO = 4,               /* the vocabulary file cannot be read */
  ET_ERR_VOCAB = 5,            /* empty vocabulary, missing special token, too large */
  ET_ERR_BUFFER_TOO_SMALL = 6, /* EtEncoding.capacity < needed; `length` holds the need */
  ET_ERR_TRUNCATION = 7,       /* reserved */
  ET_ERR_THREAD = 8            /* a worker thread could not be started */
} EtStatus;

/* Filled by failing calls when passed; `message` is always NUL-terminated. */
typedef struct {
  EtStatus status;
  char message[256];
} EtError;

/* Opaque tokenizer handle (compiled vocabulary + options). */
typedef struct EtTokenizer EtTokenizer;

typedef struct {
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
} EtTokenizerOptions;

void et_tokenizer_options_init(EtTokenizerOptions *options);

/* One token per line (vocab.txt).  The id of a token is its line number. */
EtStatus et_tokenizer_create_from_file(const char *path, const EtTokenizerOptions *options,
                                       EtTokenizer **out, EtError *err);
EtStatus et_tokenizer_create_from_buffer(const char *data, size_t size,
                                         const EtTokenizerOptions *options, EtTokenizer **out,
                                         EtError *err);
void et_tokenizer_delete(EtTokenizer *tokenizer);

size_t et_tokenizer_vocab_size(const EtTokenizer *tokenizer);
/* Id of a token (exact bytes), or -1. */
int32_t et_tokenizer_token_to_id(const EtTokenizer *tokenizer, const char *token, size_t size);
/* Bytes of the token with this id (not NUL-terminated) or NULL; *size gets its length. */
const char *et_tokenizer_id_to_token(const EtTokenizer *tokenizer, int32_t id, size_t *size);
/* Ids of the special tokens (-1 for a pad token missing from the vocabulary). */
int32_t et_tokenizer_unk_id(const EtTokenizer *tokenizer);
int32_t et_tokenizer_cls_id(const EtTokenizer *tokenizer);
int32_t et_tokenizer_sep_id(const EtTokenizer *tokenizer);
int32_t et_tokenizer_pad_id(const EtTokenizer *tokenizer);

typedef enum { ET_PAD_NONE = 0, ET_PAD_TO_MAX_LENGTH = 1 } EtPadding;

typedef struct {
  size_t max_length;      /* 0: no limit */
  int truncation;         /* 1: truncate to max_length (longest-first for pairs); as HF,
                             nothing is cut when max_length < the special tokens (2 or 3) */
  EtPadding padding;      /* ET_PAD_TO_MAX_LENGTH pads up to max_length */
  int add_special_tokens; /* 1: [CLS] A [SEP] (B [SEP]); default 1 */
} EtEncodeOptions;

void et_encode_options_init(EtEncodeOptions *options);

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

/* Encode one text, or a pair when `pair` is not NULL. */
EtStatus et_encode(const EtTokenizer *tokenizer, const char *text, size_t text_size,
                   const char *pair, size_t pair_size, const EtEncodeOptions *options,
                   EtEncoding *out, EtError *err);

/* Ids only, for bindings that want the least per-call work: writes up to
 * `capacity` ids and sets *length to the number of ids of the encoding
 * (ET_ERR_BUFFER_TOO_SMALL when it exceeds capacity). */
EtStatus et_encode_ids(const EtTokenizer *tokenizer, const char *text, size_t text_size,
                       const EtEncodeOptions *options, int32_t *ids, size_t capacity,
                       size_t *length, EtError *err);

/* The arguments of et_encode_ids that stay the same from call to call, kept
 * in one caller-owned block (e.g. per thread), for bindings whose cost grows
 * with the number of arguments (cffi, ctypes). */
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
int64_t et_encode_ids_call(EtIdsCall *c, const char *text, size_t text_size);

/* Batch results: ragged, owned by the library. */
typedef struct EtBatch EtBatch;

/* Encode n texts (and n pairs when `pairs` is not NULL) with up to
 * `num_threads` threads (0: one per CPU, capped by n).  On error *out is NULL
 * and err names the first failing text.  Rows are not padded (options->padding
 * is ignored): et_batch_fill_* pads to the width you choose. */
EtStatus et_encode_batch(const EtTokenizer *tokenizer, size_t n, const char *const *texts,
                         const size_t *text_sizes, const char *const *pairs,
                         const size_t *pair_sizes, const EtEncodeOptions *options,
                         size_t num_threads, EtBatch **out, EtError *err);
/* The same with the texts packed back to back in one buffer: text i is
 * data[bounds[i] .. bounds[i + 1]) (bounds has n + 1 entries); likewise the
 * pairs when pair_data is not NULL. */
EtStatus et_encode_batch_packed(const EtTokenizer *tokenizer, size_t n, const char *data,
                                const size_t *bounds, const char *pair_data,
                                const size_t *pair_bounds, const EtEncodeOptions *options,
                                size_t num_threads, EtBatch **out, EtError *err);
size_t et_batch_size(const EtBatch *batch);
size_t et_batch_total_tokens(const EtBatch *batch);
size_t et_batch_max_length(const EtBatch *batch);
/* Row i: its length and pointers into the batch (valid until et_batch_delete). */
size_t et_batch_row(const EtBatch *batch, size_t i, const int32_t **ids, const int32_t **type_ids,
                    const int32_t **offsets);
/* All ids concatenated (et_batch_total_tokens values), and row starts (n + 1). */
const int32_t *et_batch_all_ids(const EtBatch *batch);
const size_t *et_batch_row_starts(const EtBatch *batch);
/* Copy into dense [n, width] matrices (right padding: pad id, type 0, mask 0,
 * offsets (0, 0)); rows longer than width are cut.  Any output may be NULL.
 * `offsets` is [n, width, 2]. */
void et_batch_fill_i64(const EtBatch *batch, size_t width, int64_t *ids, int64_t *type_ids,
                       int64_t *attention_mask, int64_t *offsets);
void et_batch_fill_i32(const EtBatch *batch, size_t width, int32_t *ids, int32_t *type_ids,
                       int32_t *attention_mask, int32_t *offsets);
void et_batch_delete(EtBatch *batch);

/* Static description of a status code. */
const char *et_status_string(EtStatus status);
/* Unicode version of the generated tables (base data; see native/README.md). */
const char *et_unicode_version(void);

#ifdef __cplusplus
}
#endif
#endif /* EDGETEXT_H_ */
