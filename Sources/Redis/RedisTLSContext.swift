#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import COpenSSL
import Synchronization

/// An OpenSSL `SSL_CTX` built from ``RedisTLSOptions``: the trust store, the verification mode and the
/// client certificate. Freed with the object.
///
/// Connections with the same options share one context (``shared(for:)``), so a worker's many connections
/// load the CA store and the client certificate once. A context is rebuilt when one of its files changes
/// (a rotated certificate is picked up by the next connect).
final class RedisTLSContext: @unchecked Sendable {
    // @unchecked Sendable: `context` is configured in init and only read afterwards; OpenSSL lets many
    // `SSL` objects on many threads share one configured, reference-counted `SSL_CTX`.
    let context: OpaquePointer
    let options: RedisTLSOptions
    /// The modification times of the files read, to notice a rotated certificate.
    private let fileStamps: [String: FileStamp]

    struct FileStamp: Equatable {
        var seconds: Int
        var nanoseconds: Int
    }

    private static let cache = Mutex<[RedisTLSOptions: RedisTLSContext]>([:])

    /// The shared context for `options`, built (or rebuilt, when a file changed) as needed.
    /// - Throws: ``RedisError/Code/tls`` as ``init(_:)``.
    static func shared(for options: RedisTLSOptions) throws -> RedisTLSContext {
        RedisTLSLibrary.initialize()  // for library users that did not call it at start
        if let cached = cache.withLock({ $0[options] }), cached.fileStamps == stamps(of: options) {
            return cached
        }
        let fresh = try RedisTLSContext(options)
        cache.withLock { $0[options] = fresh }
        return fresh
    }

    private static func stamps(of options: RedisTLSOptions) -> [String: FileStamp] {
        var result: [String: FileStamp] = [:]
        let paths = [options.caCertificatesPath, options.certificatePath, options.keyPath].compactMap { $0 }
        for path in paths {
            var info = stat()
            if stat(path, &info) == 0 {
                result[path] = FileStamp(seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
            } else {
                result[path] = FileStamp(seconds: -1, nanoseconds: 0)
            }
        }
        return result
    }

    /// Builds the context. Reading the files happens here, so a missing CA file or client certificate is
    /// reported before any byte goes to the network.
    /// - Throws: ``RedisError/Code/tls`` naming the file and OpenSSL's reason.
    init(_ options: RedisTLSOptions) throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw RedisError(.outOfMemory, "could not allocate a TLS context")
        }
        self.context = context
        self.options = options
        self.fileStamps = Self.stamps(of: options)
        ERR_clear_error()
        guard copenssl_ctx_min_tls12(context) == 1 else {
            throw RedisError(.tls, "TLS: could not require TLS 1.2 or later (\(Self.lastErrorText()))")
        }
        copenssl_ctx_set_write_modes(context)
        if options.verifiesCertificate {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            // The system store, as Python's ssl.create_default_context() (redis-py's client) uses.
            _ = SSL_CTX_set_default_verify_paths(context)
            if let path = options.caCertificatesPath {
                try Self.checkReadable(path, parameter: "ssl_ca_certs", what: "CA file")
                ERR_clear_error()
                guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                    throw RedisError(.tls, "TLS: cannot load the CA file '\(path)' (ssl_ca_certs): \(Self.lastErrorText())")
                }
            }
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if options.certificatePath != nil || options.keyPath != nil {
            guard let certificate = options.certificatePath else {
                throw RedisError(.tls, "TLS: ssl_keyfile needs ssl_certfile (the client certificate)")
            }
            let key = options.keyPath ?? certificate
            try Self.checkReadable(certificate, parameter: "ssl_certfile", what: "client certificate")
            try Self.checkReadable(key, parameter: "ssl_keyfile", what: "client key")
            ERR_clear_error()
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
                throw RedisError(.tls, "TLS: cannot load the client certificate '\(certificate)' (ssl_certfile): \(Self.lastErrorText())")
            }
            // The key's text never reaches a message: only the path and OpenSSL's reason do.
            guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
                throw RedisError(.tls, "TLS: cannot load the client key '\(key)' (ssl_keyfile): \(Self.lastErrorText())")
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw RedisError(.tls, "TLS: the client key '\(key)' does not belong to the certificate '\(certificate)'")
            }
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A clear message for a file that is missing or unreadable, before OpenSSL's terser one.
    private static func checkReadable(_ path: String, parameter: String, what: String) throws {
        if access(path, R_OK) != 0 {
            let reason = String(cString: strerror(errno))
            throw RedisError(.tls, "TLS: cannot read the \(what) '\(path)' (\(parameter)): \(reason)")
        }
    }

    /// OpenSSL's reason for the most recent error on this thread, e.g. "certificate verify failed".
    static func lastErrorText() -> String {
        let code = ERR_peek_last_error()
        guard code != 0 else { return "unknown error" }
        if let reason = ERR_reason_error_string(code) {
            return String(cString: reason)
        }
        return "error \(code)"
    }
}
