#ifndef OAUTHQ_CHIREDIS_SHIM_H
#define OAUTHQ_CHIREDIS_SHIM_H
// hiredis 0.14.1 (Debian libhiredis-dev). oauthq does its own socket I/O (plain or TLS) and uses hiredis
// for the protocol only: `redisFormatCommandArgv` (explicit lengths, binary-safe, not variadic) and the
// reply parser `redisReader`.
#include <hiredis/hiredis.h>

/// `redisReaderGetReply` hands the reply out through `void **`; this typed wrapper does the cast once.
static inline int chiredis_reader_get_reply(redisReader *r, redisReply **reply) {
    return redisReaderGetReply(r, (void **)reply);
}

#endif
