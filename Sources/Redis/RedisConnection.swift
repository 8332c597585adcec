#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import ThreadConfinement

/// One connection to Redis — over TCP, TLS (`rediss://`), a Unix socket, or to the master a Redis
/// Sentinel names — confined to its own OS thread.
///
/// The actor's executor is a ``DedicatedThreadExecutor``: every socket, OpenSSL and hiredis call happens
/// in an isolated method, so it blocks that thread, never Swift's cooperative pool. Callers `await` the
/// methods as usual. hiredis (0.14) formats the commands and parses the replies; the bytes move through
/// ``RedisSocket``, one code path for plain and TLS, every wait bounded by `poll(2)`.
///
/// ## Failure semantics
/// After any I/O error, EOF, timeout or protocol error the connection closes its socket at once and is
/// dead from then on — ``isAlive`` is false and every later call throws
/// ``RedisError/Code/connectionClosed`` without touching the network. Make a new connection, e.g. with
/// ``connect(_:retrying:)``. A top-level error reply (`-ERR …`) is *not* a connection failure:
/// ``command(_:)-([[UInt8]])`` throws ``RedisError/Code/server`` and the connection stays usable. The
/// exceptions are `-READONLY`, `-LOADING` and `-MASTERDOWN`, which say the server is not (or no longer) a
/// usable master, typically after a failover: the connection is closed and the call throws the transient
/// ``RedisError/Code/failover``, so the caller's reconnect finds the current master.
///
/// ## Timeouts
/// ``RedisConfiguration/commandTimeout`` bounds every write and every wait for reply bytes. Keep it above
/// the timeout of any blocking command (`BLMOVE`, `BRPOP`, `BLPOP`): otherwise the call throws
/// ``RedisError/Code/timeout`` and the connection is dead. Note that an abandoned blocking pop may
/// still have moved an item on the server. ``RedisConfiguration/connectTimeout`` bounds the connect and
/// the TLS handshake (each sentinel asked counts on its own).
public actor RedisConnection {
    private let executor: DedicatedThreadExecutor
    /// The configuration this connection was made with.
    public nonisolated let configuration: RedisConfiguration
    /// The socket and the reply parser; nil once closed or dead. Owned by this actor: closed by
    /// ``close()``, by the first fatal error, or by `deinit`.
    private var wire: RedisWire?
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

    // `isolated deinit` (SE-0371) runs on the connection's own thread, like every other socket call.
    isolated deinit {
        wire?.close()
        wire = nil
        executor.shutdown()
    }

    // MARK: - Connecting

    /// Connects, authenticates (`AUTH`) and selects the database (`SELECT`). With a sentinel endpoint it
    /// first asks the sentinels, in order, for the master's address (`SENTINEL get-master-addr-by-name`),
    /// and checks that the server found is a master (`ROLE`).
    /// - Parameter configuration: where to connect; see ``RedisConfiguration``.
    /// - Returns: a live connection.
    /// - Throws: ``RedisError``: ``RedisError/Code/io`` when nothing listens (e.g. "Connection
    ///   refused"), ``RedisError/Code/timeout`` when the connect or the TLS handshake times out,
    ///   ``RedisError/Code/tls`` when TLS fails for good (untrusted certificate, host name mismatch, no TLS
    ///   on the port, unreadable CA or client certificate file), ``RedisError/Code/server`` when `AUTH` or
    ///   `SELECT` is refused (prefix `WRONGPASS`, `ERR`, …), ``RedisError/Code/failover`` when the server
    ///   is loading or is not the master.
    public static func connect(_ configuration: RedisConfiguration) async throws -> RedisConnection {
        let connection = RedisConnection(configuration: configuration)
        // On failure `connection` is released here and its deinit frees whatever was allocated.
        try await connection.open()
        return connection
    }

    /// Connects like ``connect(_:)``, retrying transient failures (I/O, EOF, timeout, failover) after the
    /// delays of `policy`. The waits are `Task.sleep`, so they occupy no thread; cancelling the task stops
    /// the retries with `CancellationError`.
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
        switch configuration.endpoint {
        case .tcp(let host, let port):
            try openServer(host: host, port: port)
        case .unix(let path):
            let socket = try RedisSocket.connect(path: path, timeout: configuration.connectTimeout)
            wire = try RedisWire(socket: socket, commandTimeout: configuration.commandTimeout)
            try handshake()
        case .sentinel(let nodes):
            try openThroughSentinels(nodes)
        }
    }

    /// TCP (and TLS when configured) to one server, then `AUTH` and `SELECT`.
    private func openServer(host: String, port: Int) throws {
        let tls = try configuration.tls.map(RedisTLSContext.shared(for:))
        let socket = try RedisSocket.connect(host: host, port: port, timeout: configuration.connectTimeout, tls: tls)
        wire = try RedisWire(socket: socket, commandTimeout: configuration.commandTimeout)
        try handshake()
    }

    private func handshake() throws {
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

    /// Asks each sentinel in turn for the master's address, connects to it and checks its `ROLE`; the
    /// first master that answers wins.
    private func openThroughSentinels(_ nodes: [RedisConfiguration.SentinelNode]) throws {
        guard let master = configuration.sentinelMaster, !master.isEmpty else {
            throw RedisError(
                .invalidConfiguration,
                "a sentinel:// URL needs the master's name (--sentinel-master or OAUTHQ_SENTINEL_MASTER)"
            )
        }
        let shownMaster = master.count <= 64 ? master : String(master.prefix(64)) + "…"
        var failures: [String] = []
        var unknown = 0
        for node in nodes {
            let address: (host: String, port: Int)?
            do {
                address = try RedisSentinelQuery.masterAddress(of: master, asking: node, configuration: configuration)
            } catch let error as RedisError where error.isTransient {
                failures.append(error.message)
                continue
            }
            guard let address else {
                unknown += 1
                continue
            }
            do {
                try openServer(host: address.host, port: address.port)
                try verifyMaster()
                return
            } catch let error as RedisError where error.isTransient {
                wire?.close()
                wire = nil
                failures.append(error.message)
            }
        }
        if failures.isEmpty {
            throw RedisError(.invalidConfiguration, "no sentinel knows a master named '\(shownMaster)' (--sentinel-master)")
        }
        if unknown > 0 { failures.append("\(unknown) sentinel(s) know no master named '\(shownMaster)'") }
        throw RedisError(.io, "no master '\(shownMaster)' reachable through the sentinels: \(failures.joined(separator: "; "))")
    }

    /// `ROLE` must say `master`: a sentinel may still name a demoted master for a moment after a failover.
    private func verifyMaster() throws {
        let reply = try roundTrip([Array("ROLE".utf8)])
        guard case .array(let parts) = reply, let role = parts.first?.string else {
            throw fail(RedisError(.unexpectedReply, "ROLE answered \(reply.description)"))
        }
        guard role == "master" else {
            let peer = wire?.socket.peer ?? "the server"
            throw fail(RedisError(.failover, "\(peer), named master by the sentinels, reports the role '\(role.prefix(16))'"))
        }
    }

    /// Checks a handshake reply; on anything but `+OK` closes the connection and throws.
    private func expectOK(_ reply: RedisValue, during step: String) throws {
        switch reply {
        case .status("OK"):
            return
        case .error(let message):
            if let failover = Self.failoverError(message) {
                throw fail(failover)
            }
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
        wire != nil
    }

    /// Sends one command and waits for its reply. Arguments are sent with explicit lengths, so any
    /// bytes (NUL included) are safe.
    /// - Parameter arguments: the command name and its arguments, e.g. `[Array("GET".utf8), key]`.
    /// - Returns: the reply; error replies nested inside arrays stay ``RedisValue/error(_:)`` values.
    /// - Throws: ``RedisError/Code/server`` for a top-level error reply (the connection stays usable);
    ///   ``RedisError/Code/failover`` for `-READONLY`, `-LOADING` or `-MASTERDOWN` (the connection is
    ///   closed); ``RedisError/Code/io``, ``RedisError/Code/eof``, ``RedisError/Code/timeout``,
    ///   ``RedisError/Code/tls`` or ``RedisError/Code/protocol`` when the connection failed (it is dead
    ///   afterwards); ``RedisError/Code/connectionClosed`` when it was already dead or closed.
    public func command(_ arguments: [[UInt8]]) throws -> RedisValue {
        let reply = try roundTrip(arguments)
        if case .error(let message) = reply {
            if let failover = Self.failoverError(message) {
                throw fail(failover)
            }
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
    ///   not thrown, so one failing command does not hide the others' results — except `-READONLY`,
    ///   `-LOADING` and `-MASTERDOWN`, which close the connection and throw ``RedisError/Code/failover``.
    /// - Throws: a connection-level ``RedisError`` (the connection is then dead), or
    ///   ``RedisError/Code/invalidCommand`` for an empty command (nothing is sent).
    public func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        guard commands.allSatisfy({ !$0.isEmpty }) else {
            throw RedisError(.invalidCommand, "a pipelined command has no arguments")
        }
        let wire = try liveWire()
        var values: [RedisValue] = []
        values.reserveCapacity(commands.count)
        do {
            try wire.send(commands, context: "send a pipeline")
            for _ in commands {
                values.append(try wire.receive(context: "read a pipelined reply"))
            }
        } catch let error as RedisError {
            throw fail(error)
        }
        for case .error(let message) in values {
            if let failover = Self.failoverError(message) {
                throw fail(failover)
            }
        }
        return values
    }

    /// Waits up to `timeout` for the next reply pushed by the server, e.g. a pub/sub message after
    /// `SUBSCRIBE` (`["message", channel, payload]`), or the confirmations of further channels.
    ///
    /// The wait is a `poll(2)` on the socket, so running out of time leaves the connection alive.
    /// - Returns: the reply (error replies as ``RedisValue/error(_:)`` values), or nil when nothing
    ///   complete arrived in time; a partly received reply stays buffered for the next call.
    /// - Throws: a connection-level ``RedisError`` (the connection is then dead).
    public func nextReply(timeout: Duration) throws -> RedisValue? {
        let wire = try liveWire()
        do {
            return try wire.receive(until: ContinuousClock.now + timeout, context: "read a pushed reply")
        } catch let error as RedisError {
            throw fail(error)
        }
    }

    /// Closes the connection. Later calls throw ``RedisError/Code/connectionClosed``. Idempotent.
    public func close() {
        if let wire {
            wire.close()
            self.wire = nil
        }
        if closedReason == nil {
            closedReason = RedisError(.connectionClosed, "the connection was closed")
        }
    }

    // MARK: - Plumbing (all on the connection's thread)

    private func liveWire() throws -> RedisWire {
        if let wire { return wire }
        throw closedReason ?? RedisError(.connectionClosed, "the connection is closed")
    }

    /// One command, one reply, error replies returned as values.
    private func roundTrip(_ arguments: [[UInt8]]) throws -> RedisValue {
        guard !arguments.isEmpty else {
            throw RedisError(.invalidCommand, "a command needs at least its name")
        }
        let wire = try liveWire()
        do {
            return try wire.roundTrip(arguments, context: "run a command")
        } catch let error as RedisError {
            throw fail(error)
        }
    }

    /// Marks the connection dead, closes its socket, and returns the error to throw.
    private func fail(_ error: RedisError) -> RedisError {
        wire?.close()
        wire = nil
        closedReason = RedisError(
            .connectionClosed,
            "the connection died earlier (\(error.code)) and cannot be reused"
        )
        return error
    }

    /// The error for a reply that says the server is not a usable master, or nil.
    static func failoverError(_ message: String) -> RedisError? {
        let prefix = message.prefix { !$0.isWhitespace }
        guard prefix == "READONLY" || prefix == "LOADING" || prefix == "MASTERDOWN" else { return nil }
        let reason = switch prefix {
        case "READONLY": "the server is a read-only replica (a failover demoted it?)"
        case "LOADING": "the server is still loading its data"
        default: "the replica lost its master"
        }
        return RedisError(.failover, "\(reason); reconnecting finds the current master", serverPrefix: String(prefix))
    }
}
