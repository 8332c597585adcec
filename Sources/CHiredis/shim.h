#ifndef OAUTHQ_CHIREDIS_SHIM_H
#define OAUTHQ_CHIREDIS_SHIM_H
// hiredis 0.14.1 (Debian libhiredis-dev). Only the argv forms of the command API are used from Swift:
// they take explicit lengths (binary-safe) and are not variadic.
#include <hiredis/hiredis.h>

/// `redisCommandArgv` returns `void *`; this typed wrapper saves an unsafe cast at every call site.
static inline redisReply *chiredis_command_argv(redisContext *c, int argc, const char **argv, const size_t *argvlen) {
    return (redisReply *)redisCommandArgv(c, argc, argv, argvlen);
}

/// `redisGetReply` hands the reply out through `void **`; this typed wrapper does the cast once.
static inline int chiredis_get_reply(redisContext *c, redisReply **reply) {
    return redisGetReply(c, (void **)reply);
}

#endif
