/* status.c: filling EtError, and the struct_size rule of the option structs.
 * Depends on nothing (the bottom of the unit graph). */
#ifndef EDGETEXT_ET_STATUS_H_
#define EDGETEXT_ET_STATUS_H_

#include <stddef.h>

#include "edgetext.h"

/* err->status = status, err->message = the formatted text (truncated to
 * fit, always NUL-terminated); nothing when err is NULL. */
void et_set_error(EtError *err, EtStatus status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The struct_size rule (include/edgetext.h): a caller's option struct
 * `what` of `got` bytes is accepted when need <= got <= have (need: the
 * bytes of the oldest layout this library reads, have: sizeof the layout it
 * was built with); else ET_ERR_INVALID_ARGUMENT with a message naming the
 * struct and its `init` function. */
EtStatus et_check_struct_size(const char *what, const char *init, size_t got, size_t need,
                              size_t have, EtError *err);

#endif /* EDGETEXT_ET_STATUS_H_ */
