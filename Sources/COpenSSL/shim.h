#ifndef OAUTHQ_COPENSSL_SHIM_H
#define OAUTHQ_COPENSSL_SHIM_H
// OpenSSL 3 (Debian libssl-dev), for the TLS transport of the Redis module. Only wrappers for macros
// Swift cannot call are defined here; everything else is OpenSSL's own API.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/// `SSL_set_tlsext_host_name` is a macro over `SSL_ctrl` (SNI).
static inline int copenssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// `SSL_CTX_set_min_proto_version` is a macro over `SSL_CTX_ctrl`.
static inline int copenssl_ctx_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

/// `SSL_CTX_set_mode` is a macro: partial writes, and a write buffer that may move between retries.
static inline void copenssl_ctx_set_write_modes(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

#endif
