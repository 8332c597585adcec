#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import CHiredis
import ThreadConfinement

/// One connection to Redis over hiredis 0.14, confined to its own OS thread.
///
/// The actor's executor is a ``DedicatedThreadExecutor``: every hiredis call happens in an isolated
/// method, so it blocks that thread, never Swift's cooperative pool. Callers `await` the methods as
/// usual.
///
/// ## Failure semantics
/// After any I/O error, EOF, timeout or protocol error the hiredis context cannot be reused (hiredis
/// README): the connection frees it at once and is dead from then on — ``isAlive`` is false and every
/// later call throws ``RedisError/Code/connectionClosed`` without touching the network. Make a new
/// connection, e.g. with ``connect(_:retrying:)``. A top-level error reply (`-ERR …`) is *not* a
/// connection failure: ``command(_:)-([[UInt8]])`` throws ``RedisError/Code/server`` and the
/// connection stays usable.
///
/// ## Timeouts
/// ``RedisConfiguration/commandTimeout`` is the socket timeout of every command. Keep it above the
/// timeout of any blocking command (`BLMOVE`, `BRPOP`, `BLPOP`): otherwise the call throws
/// ``RedisError/Code/timeout`` and the connection is dead. Note that an abandoned blocking pop may
/// still have moved an item on the server.
public actor RedisConnection {
    private let executor: DedicatedThreadExecutor
    /// The configuration this connection was made with.
    public nonisolated let configuration: RedisConfiguration
    /// The hiredis context; nil once closed or dead. Owned by this actor: freed by ``close()``, by the
    /// first fatal error, or by `deinit`.
    private var context: UnsafeMutablePointer<redisContext>?
    /// Why the connection is unusable, once it is.
    private var closedReason: RedisError?

    /// The connection's own executor: its dedicated thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    private init(configuration: RedisConfiguration) {
        self.configuration = configuration
        self.executor = DedicatedThreadExecutor(name: "redis-conn")
    }

    // `isolated deinit` (SE-0371) runs on the connection's own thread, like every other hiredis call.
    isolated deinit {
        if let context {
            redisFree(context)
        }
        executor.shutdown()
    }

    // MARK: - Connecting

    /// Connects, authenticates (`AUTH`) and selects the database (`SELECT`).
    /// - Parameter configuration: where to connect; see ``RedisConfiguration``.
    /// - Returns: a live connection.
    /// - Throws: ``RedisError``: ``RedisError/Code/io`` when nothing listens (e.g. "Connection
    ///   refused"), ``RedisError/Code/timeout`` when the connect times out, ``RedisError/Code/server``
    ///   when `AUTH` or `SELECT` is refused (prefix `WRONGPASS`, `ERR`, …).
    public static func connect(_ configuration: RedisConfiguration) async throws -> RedisConnection {
        let connection = RedisConnection(configuration: configuration)
        // On failure `connection` is released here and its deinit frees whatever was allocated.
        try await connection.open()
        return connection
    }

    /// Connects like ``connect(_:)``, retrying transient failures (I/O, EOF, timeout) after the delays
    /// of `policy`. The waits are `Task.sleep`, so they occupy no thread; cancelling the task stops the
    /// retries with `CancellationError`.
    /// - Throws: the last ``RedisError`` once `policy.maxAttempts` attempts failed, a permanent
    ///   ``RedisError`` (e.g. a wrong password) at once, or `CancellationError`.
    public static func connect(
        _ configuration: RedisConfiguration,
        retrying policy: RedisReconnectPolicy
    ) async throws -> RedisConnection {
        var attempt = 1
        while true {
            try Task.checkCancellation()
            do {
                return try await connect(configuration)
            } catch let error as RedisError where error.isTransient {
                if let maxAttempts = policy.maxAttempts, attempt >= maxAttempts {
                    throw error
                }
                try await Task.sleep(for: policy.delay(forRetry: attempt))
                attempt += 1
            }
        }
    }

    private func open() throws {
        let timeout = Self.socketTimeout(configuration.connectTimeout)
        let target: String
        let connected: UnsafeMutablePointer<redisContext>?
        switch configuration.endpoint {
        case .tcp(let host, let port):
            target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            connected = redisConnectWithTimeout(host, Int32(port), timeout)
        case .unix(let path):
            target = path
            connected = redisConnectUnixWithTimeout(path, timeout)
        }
        let savedErrno = errno
        guard let connected else {
            throw RedisError(.outOfMemory, "could not allocate a hiredis context")
        }
        if connected.pointee.err != 0 {
            let error = Self.contextError(connected, errno: savedErrno, context: "connect to \(target)")
            // hiredis README: on a connect error "the context cannot be reused"; it must still be freed.
            redisFree(connected)
            throw error
        }
        context = connected
        // The connect timeout also became the socket timeout; commands use their own.
        guard redisSetTimeout(connected, Self.socketTimeout(configuration.commandTimeout)) == REDIS_OK else {
            throw kill(connected, errno: errno, context: "set the command timeout")
        }
        if case .tcp = configuration.endpoint {
            _ = redisEnableKeepAlive(connected)  // best effort: a failure leaves the connection usable
        }

        if let password = configuration.password {
            var arguments: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = configuration.username {
                arguments.append(Array(username.utf8))
            }
            arguments.append(Array(password.utf8))
            try expectOK(roundTrip(arguments), during: "AUTH")
        }
        if configuration.database != 0 {
            try expectOK(roundTrip([Array("SELECT".utf8), Array(String(configuration.database).utf8)]), during: "SELECT")
        }
    }

    /// Checks a handshake reply; on anything but `+OK` closes the connection and throws.
    private func expectOK(_ reply: RedisValue, during step: String) throws {
        switch reply {
        case .status("OK"):
            return
        case .error(let message):
            close()
            throw RedisError.server(message, context: "\(step) failed")
        default:
            close()
            throw RedisError(.unexpectedReply, "\(step) answered \(reply.description) instead of OK")
        }
    }

    // MARK: - Commands

    /// Whether the connection can still be used: false after ``close()`` or a fatal error.
    public var isAlive: Bool {
        context != nil
    }

    /// Sends one command and waits for its reply. Arguments are sent with explicit lengths, so any
    /// bytes (NUL included) are safe.
    /// - Parameter arguments: the command name and its arguments, e.g. `[Array("GET".utf8), key]`.
    /// - Returns: the reply; error replies nested inside arrays stay ``RedisValue/error(_:)`` values.
    /// - Throws: ``RedisError/Code/server`` for a top-level error reply (the connection stays usable);
    ///   ``RedisError/Code/io``, ``RedisError/Code/eof``, ``RedisError/Code/timeout`` or
    ///   ``RedisError/Code/protocol`` when the connection failed (it is dead afterwards);
    ///   ``RedisError/Code/connectionClosed`` when it was already dead or closed.
    public func command(_ arguments: [[UInt8]]) throws -> RedisValue {
        let reply = try roundTrip(arguments)
        if case .error(let message) = reply {
            throw RedisError.server(message)
        }
        return reply
    }

    /// Sends one command given as UTF-8 strings; see ``command(_:)-([[UInt8]])``.
    public func command(_ arguments: String...) throws -> RedisValue {
        try command(arguments.map { Array($0.utf8) })
    }

    /// Sends all `commands` in one write and reads their replies in order: one round trip.
    /// - Returns: one reply per command. Error replies are returned as ``RedisValue/error(_:)`` values,
    ///   not thrown, so one failing command does not hide the others' results.
    /// - Throws: a connection-level ``RedisError`` (the connection is then dead), or
    ///   ``RedisError/Code/invalidCommand`` for an empty command (nothing is sent).
    public func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        guard commands.allSatisfy({ !$0.isEmpty }) else {
            throw RedisError(.invalidCommand, "a pipelined command has no arguments")
        }
        let c = try liveContext()
        for arguments in commands {
            let rc = Self.withArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(c, argc, argv, lengths)
            }
            guard rc == REDIS_OK else {
                throw kill(c, errno: errno, context: "append a pipelined command")
            }
        }
        var values: [RedisValue] = []
        values.reserveCapacity(commands.count)
        for _ in commands {
            var reply: UnsafeMutablePointer<redisReply>?
            let rc = chiredis_get_reply(c, &reply)
            let savedErrno = errno
            guard rc == REDIS_OK, let reply else {
                throw kill(c, errno: savedErrno, context: "read a pipelined reply")
            }
            defer { freeReplyObject(reply) }
            values.append(try convert(reply, context: c))
        }
        return values
    }

    /// Waits up to `timeout` for the next reply pushed by the server, e.g. a pub/sub message after
    /// `SUBSCRIBE` (`["message", channel, payload]`), or the confirmations of further channels.
    ///
    /// The wait is a `poll(2)` on the socket, not a socket timeout, so running out of time leaves the
    /// connection alive (hiredis would kill the context on a read timeout).
    /// - Returns: the reply (error replies as ``RedisValue/error(_:)`` values), or nil when nothing
    ///   complete arrived in time; a partly received reply stays buffered for the next call.
    /// - Throws: a connection-level ``RedisError`` (the connection is then dead).
    public func nextReply(timeout: Duration) throws -> RedisValue? {
        let c = try liveContext()
        let deadline = ContinuousClock.now + timeout
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(c, &raw) == REDIS_OK else {
                throw kill(c, errno: errno, context: "parse a reply")
            }
            if let raw {
                let reply = raw.assumingMemoryBound(to: redisReply.self)
                defer { freeReplyObject(reply) }
                return try convert(reply, context: c)
            }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero {
                return nil
            }
            var descriptor = pollfd(fd: c.pointee.fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: Int64((remaining.seconds * 1000).rounded(.up)))
            let ready = poll(&descriptor, 1, max(1, milliseconds))
            if ready < 0 {
                let pollErrno = errno
                if pollErrno == EINTR { continue }
                throw kill(c, error: RedisError(.io, "poll failed (errno \(pollErrno))"))
            }
            if ready == 0 { continue }  // the deadline check above returns nil
            // Readable (data, EOF or an error): one read(2) will not block.
            guard redisBufferRead(c) == REDIS_OK else {
                throw kill(c, errno: errno, context: "read a pushed reply")
            }
        }
    }

    /// Frees the connection. Later calls throw ``RedisError/Code/connectionClosed``. Idempotent.
    public func close() {
        if let context {
            redisFree(context)
            self.context = nil
        }
        if closedReason == nil {
            closedReason = RedisError(.connectionClosed, "the connection was closed")
        }
    }

    // MARK: - hiredis plumbing (all on the connection's thread)

    private func liveContext() throws -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        throw closedReason ?? RedisError(.connectionClosed, "the connection is closed")
    }

    /// One command, one reply, error replies returned as values.
    private func roundTrip(_ arguments: [[UInt8]]) throws -> RedisValue {
        guard !arguments.isEmpty else {
            throw RedisError(.invalidCommand, "a command needs at least its name")
        }
        let c = try liveContext()
        let reply = Self.withArgv(arguments) { argc, argv, lengths in
            chiredis_command_argv(c, argc, argv, lengths)
        }
        let savedErrno = errno
        guard let reply else {
            throw kill(c, errno: savedErrno, context: "run a command")
        }
        defer { freeReplyObject(reply) }
        return try convert(reply, context: c)
    }

    /// Copies a reply into a ``RedisValue``; an impossible reply type kills the connection.
    private func convert(
        _ reply: UnsafeMutablePointer<redisReply>,
        context c: UnsafeMutablePointer<redisContext>
    ) throws -> RedisValue {
        do {
            return try Self.value(of: reply)
        } catch let error as RedisError {
            throw kill(c, error: error)
        }
    }

    /// Marks the connection dead with the error recorded in the context, frees the context, and
    /// returns the error to throw.
    private func kill(_ c: UnsafeMutablePointer<redisContext>, errno savedErrno: Int32, context: String) -> RedisError {
        kill(c, error: Self.contextError(c, errno: savedErrno, context: context))
    }

    private func kill(_ c: UnsafeMutablePointer<redisContext>, error: RedisError) -> RedisError {
        precondition(c == context, "hiredis context does not belong to this connection")
        redisFree(c)
        context = nil
        closedReason = RedisError(
            .connectionClosed,
            "the connection died earlier (\(error.code)) and cannot be reused"
        )
        return error
    }

    /// Turns `c->err`/`c->errstr` (plus the `errno` saved right after the failing call) into an error.
    private static func contextError(
        _ c: UnsafeMutablePointer<redisContext>,
        errno savedErrno: Int32,
        context: String
    ) -> RedisError {
        let text = withUnsafeBytes(of: c.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        let detail = text.isEmpty ? "no reply" : text
        switch c.pointee.err {
        case REDIS_ERR_IO:
            // A socket timeout surfaces as EAGAIN (reads/writes) or ETIMEDOUT (connect).
            if [EAGAIN, EWOULDBLOCK, ETIMEDOUT].contains(savedErrno) {
                return RedisError(.timeout, "timed out trying to \(context) (\(detail))")
            }
            return RedisError(.io, "I/O error trying to \(context): \(detail)")
        case REDIS_ERR_EOF:
            return RedisError(.eof, "the server closed the connection trying to \(context) (\(detail))")
        case REDIS_ERR_PROTOCOL:
            return RedisError(.protocol, "protocol error trying to \(context): \(detail)")
        case REDIS_ERR_OOM:
            return RedisError(.outOfMemory, "out of memory trying to \(context)")
        case 0:
            return RedisError(.io, "no reply trying to \(context)")
        default:
            return RedisError(.other, "failed to \(context): \(detail)")
        }
    }

    /// Copies a hiredis reply tree into owned Swift values. The caller frees `reply`.
    private static func value(of reply: UnsafeMutablePointer<redisReply>) throws -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            guard r.len > 0, let str = r.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: r.len)))
        case REDIS_REPLY_STATUS:
            return .status(text(r))
        case REDIS_REPLY_ERROR:
            return .error(text(r))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            guard r.elements > 0, let elements = r.element else { return .array([]) }
            var values: [RedisValue] = []
            values.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                guard let element = elements[index] else {
                    throw RedisError(.protocol, "array reply with a missing element")
                }
                values.append(try value(of: element))
            }
            return .array(values)
        default:
            throw RedisError(.protocol, "unknown hiredis reply type \(r.type)")
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard r.len > 0, let str = r.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self)
    }

    /// Lays the arguments out in one contiguous buffer and calls `body` with hiredis' argc/argv/argvlen.
    /// The pointers are valid only inside `body`.
    private static func withArgv<Result>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        offsets.reserveCapacity(arguments.count)
        for argument in arguments {
            offsets.append(storage.count)
            storage.append(contentsOf: argument)
        }
        storage.append(0)  // never empty, so the base address exists even for empty arguments
        let lengths = arguments.map(\.count)
        return storage.withUnsafeBytes { bytes in
            // UInt8 and CChar (Int8) are related types: the memory may be accessed as either.
            let base = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    body(Int32(arguments.count), argv.baseAddress!, argvlen.baseAddress!)
                }
            }
        }
    }

    private static func socketTimeout(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
