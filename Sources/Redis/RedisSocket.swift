#if canImport(Glibc)
import CivilCalendar
import Glibc
#else
import Darwin
#endif
import COpenSSL

/// A connected stream socket to a Redis server — TCP, TCP with TLS, or a Unix socket — with every wait
/// bounded by `poll(2)`. Plain and TLS share this one code path: the only difference is whether bytes go
/// through `send`/`recv` or `SSL_write`/`SSL_read`.
///
/// The descriptor is non-blocking from the start, so neither the connect, the TLS handshake, a write nor
/// a read can outlast its deadline. Owned by one ``RedisConnection`` and used only on its thread, which
/// also keeps `SIGPIPE` blocked (a write to a closed TLS socket fails with `EPIPE` instead of ending the
/// process).
final class RedisSocket {
    /// The descriptor; -1 once closed.
    private(set) var descriptor: Int32
    /// The TLS session, nil for a plain socket. `SSL *`.
    private var session: OpaquePointer?
    /// The TLS context the session was made from; kept alive as long as the session.
    private let tlsContext: RedisTLSContext?
    /// `host:port` or the socket path, for messages.
    let peer: String
    /// Whether any byte has arrived yet: a plain connection reset before the first reply hints at a TLS port.
    private(set) var hasReceived = false
    /// The last read filled the whole buffer, so more bytes are probably queued: read again without polling.
    private var lastReadFilled = false

    private init(descriptor: Int32, peer: String, tlsContext: RedisTLSContext?) {
        self.descriptor = descriptor
        self.peer = peer
        self.tlsContext = tlsContext
    }

    deinit {
        close()
    }

    var isTLS: Bool { tlsContext != nil }

    /// Closes the socket (a TLS close_notify is sent best effort, without waiting). Idempotent.
    func close() {
        if let session {
            // Only if the handshake finished: SSL_shutdown on a failed session just sets an error.
            if SSL_is_init_finished(session) == 1 {
                ERR_clear_error()
                _ = SSL_shutdown(session)
            }
            SSL_free(session)
            self.session = nil
            ERR_clear_error()
        }
        // A plain socket never touches OpenSSL (not even its error queue).
        if descriptor >= 0 {
            _ = Glibc.close(descriptor)
            descriptor = -1
        }
        Self.discardPendingSIGPIPE()
    }

    // MARK: - Connecting

    /// Connects to `host:port` within `timeout`, trying each address the name resolves to, then runs the
    /// TLS handshake when `tls` is given, within the same `timeout`.
    static func connect(
        host: String,
        port: Int,
        timeout: Duration,
        tls: RedisTLSContext?
    ) throws -> RedisSocket {
        blockSIGPIPE()
        let peer = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let deadline = ContinuousClock.now + timeout
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            let reason = String(cString: gai_strerror(status))
            throw RedisError(.other, "failed to connect to \(peer): \(reason)")
        }
        defer { freeaddrinfo(list) }
        var lastError = RedisError(.io, "I/O error trying to connect to \(peer): no address")
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            entry = current.pointee.ai_next
            let info = current.pointee
            do {
                let fd = try connectDescriptor(
                    family: info.ai_family, address: info.ai_addr, length: info.ai_addrlen,
                    peer: peer, deadline: deadline
                )
                var on: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
                let socket = RedisSocket(descriptor: fd, peer: peer, tlsContext: tls)
                if tls != nil {
                    try socket.handshake(host: host, deadline: deadline)
                }
                return socket
            } catch let error as RedisError {
                // TLS verdicts and timeouts are final; a refused address lets the next one try.
                if error.code == .tls || error.code == .timeout { throw error }
                lastError = error
            }
        }
        throw lastError
    }

    /// Connects to a Unix socket within `timeout`.
    static func connect(path: String, timeout: Duration) throws -> RedisSocket {
        blockSIGPIPE()
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard bytes.count < capacity else {
            throw RedisError(.io, "I/O error trying to connect to \(path): the socket path is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try connectDescriptor(
                    family: AF_UNIX, address: sa, length: socklen_t(MemoryLayout<sockaddr_un>.size),
                    peer: path, deadline: ContinuousClock.now + timeout
                )
            }
        }
        return RedisSocket(descriptor: fd, peer: path, tlsContext: nil)
    }

    /// A non-blocking connect, finished with `poll` for writability by `deadline`.
    private static func connectDescriptor(
        family: Int32,
        address: UnsafePointer<sockaddr>?,
        length: socklen_t,
        peer: String,
        deadline: ContinuousClock.Instant
    ) throws -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            throw RedisError(.io, "I/O error trying to connect to \(peer): \(describe(errno))")
        }
        var connected = Glibc.connect(fd, address, length) == 0
        if !connected {
            let connectErrno = errno
            guard connectErrno == EINPROGRESS || connectErrno == EAGAIN || connectErrno == EINTR else {
                _ = Glibc.close(fd)
                throw RedisError(.io, "I/O error trying to connect to \(peer): \(describe(connectErrno))")
            }
            do {
                guard try wait(fd, for: Int16(POLLOUT), until: deadline) else {
                    _ = Glibc.close(fd)
                    throw RedisError(.timeout, "timed out trying to connect to \(peer) (\(describe(ETIMEDOUT)))")
                }
            } catch let error as RedisError {
                _ = Glibc.close(fd)
                throw error
            }
            var socketError: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &size) != 0 { socketError = errno }
            connected = socketError == 0
            if !connected {
                _ = Glibc.close(fd)
                throw RedisError(.io, "I/O error trying to connect to \(peer): \(describe(socketError))")
            }
        }
        return fd
    }

    /// The TLS client handshake: SNI and name verification for `host`, bounded by `deadline`.
    private func handshake(host: String, deadline: ContinuousClock.Instant) throws {
        guard let tlsContext, let session = SSL_new(tlsContext.context) else {
            throw RedisError(.outOfMemory, "could not allocate a TLS session")
        }
        self.session = session
        ERR_clear_error()
        guard SSL_set_fd(session, descriptor) == 1 else {
            throw RedisError(.tls, "TLS: could not attach the socket (\(RedisTLSContext.lastErrorText()))")
        }
        let isAddress = Self.isIPAddress(host)
        if !isAddress {
            _ = copenssl_set_sni(session, host)  // best effort: SNI is a hint
        }
        if tlsContext.options.verifiesHostname {
            let ok = isAddress
                ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(session), host) == 1
                : SSL_set1_host(session, host) == 1
            guard ok else { throw RedisError(.tls, "TLS: cannot verify the host name '\(host)'") }
        }
        while true {
            ERR_clear_error()
            let result = SSL_connect(session)
            if result == 1 { return }
            let sslError = SSL_get_error(session, result)
            let savedErrno = errno
            switch sslError {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                let events = Int16(sslError == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)
                guard try Self.wait(descriptor, for: events, until: deadline) else {
                    throw RedisError(
                        .timeout,
                        "timed out during the TLS handshake with \(peer) (a plain redis:// port never answers the TLS hello: use redis:// for it)"
                    )
                }
            default:
                throw handshakeError(session, sslError: sslError, errno: savedErrno, host: host)
            }
        }
    }

    /// One line saying why the handshake failed, from the verification result or OpenSSL's reason.
    private func handshakeError(_ session: OpaquePointer, sslError: Int32, errno savedErrno: Int32, host: String) -> RedisError {
        let verification = SSL_get_verify_result(session)
        if verification != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verification))
            if verification == X509_V_ERR_HOSTNAME_MISMATCH || verification == X509_V_ERR_IP_ADDRESS_MISMATCH {
                return RedisError(
                    .tls,
                    "TLS: the certificate of \(peer) does not match the host name '\(host)' (hostname mismatch); connect by a name the certificate lists, or set ssl_check_hostname=false"
                )
            }
            let unknownIssuer = [
                X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
            ].contains(Int32(verification))
            guard unknownIssuer else {
                return RedisError(.tls, "TLS: the certificate of \(peer) is not valid (\(reason))")
            }
            return RedisError(
                .tls,
                "TLS: the certificate of \(peer) is not trusted (\(reason)); pass its CA with ssl_ca_certs=PATH"
            )
        }
        let code = ERR_peek_last_error()
        if code != 0 {
            let reason = ERR_GET_REASON(code)
            if reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG || reason == SSL_R_UNKNOWN_PROTOCOL
                || reason == SSL_R_HTTP_REQUEST
            {
                return RedisError(.tls, "TLS: \(peer) does not speak TLS (is it a plain redis:// port?)")
            }
            return RedisError(.tls, "TLS handshake with \(peer) failed: \(RedisTLSContext.lastErrorText())")
        }
        if sslError == SSL_ERROR_SYSCALL, savedErrno != 0 {
            return RedisError(.io, "I/O error during the TLS handshake with \(peer): \(Self.describe(savedErrno))")
        }
        return RedisError(.eof, "the server closed the connection during the TLS handshake with \(peer)")
    }

    // MARK: - I/O

    /// Writes all of `bytes`, waiting at most `timeout` each time the socket is not writable.
    /// - Throws: ``RedisError/Code/timeout``, ``RedisError/Code/io`` or ``RedisError/Code/tls``.
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration, context: String) throws {
        var offset = 0
        while offset < bytes.count {
            let remaining = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let chunk = min(remaining.count, Int(Int32.max))
            let written: Int
            if let session {
                ERR_clear_error()
                let result = SSL_write(session, remaining.baseAddress, Int32(chunk))
                if result > 0 {
                    written = Int(result)
                } else {
                    let sslError = SSL_get_error(session, result)
                    let savedErrno = errno
                    if sslError == SSL_ERROR_WANT_WRITE || sslError == SSL_ERROR_WANT_READ {
                        try waitOrTimeout(sslError == SSL_ERROR_WANT_WRITE ? Int16(POLLOUT) : Int16(POLLIN), timeout, context)
                        continue
                    }
                    throw sessionError(sslError: sslError, errno: savedErrno, context: context)
                }
            } else {
                let result = send(descriptor, remaining.baseAddress, chunk, Int32(MSG_NOSIGNAL))
                if result >= 0 {
                    written = result
                } else {
                    let sendErrno = errno
                    if sendErrno == EINTR { continue }
                    if sendErrno == EAGAIN || sendErrno == EWOULDBLOCK {
                        try waitOrTimeout(Int16(POLLOUT), timeout, context)
                        continue
                    }
                    throw RedisError(.io, "I/O error trying to \(context): \(Self.describe(sendErrno))")
                }
            }
            offset += written
        }
    }

    /// Reads what is available into `buffer`, waiting until `deadline` for it.
    /// - Returns: the number of bytes read (at least 1), or nil when nothing arrived by `deadline`.
    /// - Throws: ``RedisError/Code/eof`` when the server closed the connection, ``RedisError/Code/io``
    ///   or ``RedisError/Code/tls`` when the read failed.
    func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: ContinuousClock.Instant, context: String) throws -> Int? {
        // A reply is rarely there the instant after a request: poll first (one system call fewer than a read
        // that fails with EAGAIN), unless bytes are known to be waiting (in the kernel or in OpenSSL's buffer).
        let pending = lastReadFilled || session.map { SSL_has_pending($0) == 1 } ?? false
        if !pending, try !Self.wait(descriptor, for: Int16(POLLIN), until: deadline) {
            return nil
        }
        while true {
            if let session {
                ERR_clear_error()
                let result = SSL_read(session, buffer.baseAddress, Int32(clamping: buffer.count))
                if result > 0 {
                    hasReceived = true
                    lastReadFilled = Int(result) == buffer.count
                    return Int(result)
                }
                let sslError = SSL_get_error(session, result)
                let savedErrno = errno
                switch sslError {
                case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                    // Also after a TLS 1.3 session ticket, which carries no application data.
                    let events = Int16(sslError == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)
                    if try !Self.wait(descriptor, for: events, until: deadline) { return nil }
                case SSL_ERROR_ZERO_RETURN:
                    throw RedisError(.eof, "the server closed the connection trying to \(context) (TLS close_notify)")
                default:
                    throw sessionError(sslError: sslError, errno: savedErrno, context: context)
                }
            } else {
                let result = recv(descriptor, buffer.baseAddress, buffer.count, 0)
                if result > 0 {
                    hasReceived = true
                    lastReadFilled = result == buffer.count
                    return result
                }
                if result == 0 {
                    throw RedisError(.eof, "the server closed the connection trying to \(context) (Server closed the connection\(plainHint))")
                }
                let recvErrno = errno
                if recvErrno == EINTR { continue }
                if recvErrno == EAGAIN || recvErrno == EWOULDBLOCK {
                    if try !Self.wait(descriptor, for: Int16(POLLIN), until: deadline) { return nil }
                    continue
                }
                throw RedisError(.io, "I/O error trying to \(context): \(Self.describe(recvErrno))\(plainHint)")
            }
        }
    }

    /// On a plain TCP connection that never received a byte: the hint that the port may expect TLS (a
    /// TLS server resets a client that does not start with a TLS hello).
    private var plainHint: String {
        hasReceived || isTLS || peer.hasPrefix("/") ? "" : "; the server closed the connection before its first reply: if it expects TLS, use rediss://"
    }

    private func waitOrTimeout(_ events: Int16, _ timeout: Duration, _ context: String) throws {
        guard try Self.wait(descriptor, for: events, until: ContinuousClock.now + timeout) else {
            throw RedisError(.timeout, "timed out trying to \(context) (\(Self.describe(EAGAIN)))")
        }
    }

    /// An error from `SSL_read`/`SSL_write` after the handshake.
    private func sessionError(sslError: Int32, errno savedErrno: Int32, context: String) -> RedisError {
        let code = ERR_peek_last_error()
        if code != 0, ERR_GET_REASON(code) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED {
            return RedisError(.tls, "TLS: \(peer) requires a client certificate (ssl_certfile, ssl_keyfile)")
        }
        if sslError == SSL_ERROR_SYSCALL {
            if savedErrno == 0 {
                return RedisError(.eof, "the server closed the connection trying to \(context) (Server closed the connection\(tlsHint))")
            }
            return RedisError(.io, "I/O error trying to \(context): \(Self.describe(savedErrno))\(tlsHint)")
        }
        if code != 0, ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING {
            return RedisError(.eof, "the server closed the connection trying to \(context) (unexpected EOF\(tlsHint))")
        }
        return RedisError(.io, "TLS error trying to \(context): \(RedisTLSContext.lastErrorText())\(tlsHint)")
    }

    /// On a TLS connection that never received a reply: a server that requires client certificates
    /// checks them after the client's side of the TLS 1.3 handshake, and drops the connection.
    private var tlsHint: String {
        hasReceived ? "" : "; the server ended the TLS session before its first reply: does it require a client certificate (ssl_certfile, ssl_keyfile)?"
    }

    // MARK: - Helpers

    /// Waits for `events` on `fd` until `deadline`. True when ready (or in error/hang-up: the next call
    /// reports it), false when the deadline passed.
    static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) throws -> Bool {
        while true {
            let remaining = deadline - ContinuousClock.now
            // Past the deadline, one look without waiting: what has already arrived still counts.
            let milliseconds = remaining <= .zero ? 0 : max(1, Int32(clamping: Int64((remaining.seconds * 1000).rounded(.up))))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return true }
            if ready == 0 {
                if milliseconds == 0 || ContinuousClock.now >= deadline { return false }
                continue
            }
            let pollErrno = errno
            if pollErrno == EINTR { continue }
            throw RedisError(.io, "poll failed (errno \(pollErrno))")
        }
    }

    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Blocks `SIGPIPE` on the calling thread (the connection's own): OpenSSL writes with `write(2)`,
    /// which would otherwise end the process when the server has gone. The write fails with `EPIPE`.
    private static func blockSIGPIPE() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        _ = pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Consumes a `SIGPIPE` left pending on this thread by a failed write, so it is never delivered later.
    private static func discardPendingSIGPIPE() {
        var pending = sigset_t()
        guard sigpending(&pending) == 0, sigismember(&pending, SIGPIPE) == 1 else { return }
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        _ = sigtimedwait(&set, nil, &zero)
    }
}
