import COpenSSL

/// Process-wide OpenSSL set-up for the TLS transport.
///
/// By default OpenSSL registers an `atexit` handler (`OPENSSL_cleanup`) the first time anything initialises
/// it. At exit that handler frees OpenSSL's global locks while a connection's own thread may still be closing
/// a TLS session, and the process then crashes in `pthread_rwlock_*` instead of exiting. Initialising it
/// once with `OPENSSL_INIT_NO_ATEXIT` before anything else does (libpq initialises OpenSSL too) keeps that
/// handler from ever being registered; the operating system reclaims the memory at exit anyway.
///
/// Related OpenSSL documentation: <https://www.openssl.org/docs/man3.0/man3/OPENSSL_init_crypto.html>
public enum RedisTLSLibrary {
    /// Initialises OpenSSL without an exit handler. Idempotent and cheap after the first call; call it at the
    /// start of the process, before any PostgreSQL or Redis connection.
    public static func initialize() {
        _ = OPENSSL_init_ssl(UInt64(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_LOAD_CONFIG), nil)
    }
}
