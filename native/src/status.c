/* Status codes: their descriptions, EtError filling, the ABI version and the
 * struct_size rule of the option structs.  The bottom of the unit graph:
 * depends on no other unit. */
#include <stdarg.h>
#include <stdio.h>

#include "et_status.h"

int32_t et_abi_version(void) { return ET_ABI_VERSION; }

void et_set_error(EtError *err, EtStatus status, const char *fmt, ...) {
  if (!err) return;
  err->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
}

const char *et_status_string(EtStatus status) {
  switch (status) {
    case ET_OK: return "ok";
    case ET_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ET_ERR_INVALID_UTF8: return "invalid UTF-8";
    case ET_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case ET_ERR_VOCAB: return "invalid vocabulary";
    case ET_ERR_IO: return "cannot read file";
    case ET_ERR_NO_MEMORY: return "out of memory";
    case ET_ERR_THREAD: return "cannot start thread";
  }
  return "unknown status";
}

EtStatus et_check_struct_size(const char *what, const char *init, size_t got, size_t need,
                              size_t have, EtError *err) {
  if (got >= need && got <= have) return ET_OK;
  if (got < need)
    et_set_error(err, ET_ERR_INVALID_ARGUMENT,
                 "%s.struct_size is %zu, this library needs at least %zu: call %s first",
                 what, got, need, init);
  else
    et_set_error(err, ET_ERR_INVALID_ARGUMENT,
                 "%s.struct_size is %zu, larger than this library's %zu: the program was built "
                 "against a newer edgetext.h (ABI %d here)",
                 what, got, have, ET_ABI_VERSION);
  return ET_ERR_INVALID_ARGUMENT;
}
