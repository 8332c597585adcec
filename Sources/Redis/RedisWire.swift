#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import CHiredis

/// The Redis protocol over one ``RedisSocket``: hiredis formats the commands
/// (`redisFormatCommandArgv`, explicit lengths) and parses the replies (`redisReader`); the socket moves
/// the bytes, plain or TLS. Used only on its connection's thread. Any thrown error leaves the wire
/// unusable: the caller closes it.
final class RedisWire {
    let socket: RedisSocket
    private let reader: UnsafeMutablePointer<redisReader>
    private let buffer: UnsafeMutableRawBufferPointer
    /// The idle limit of every write and of every wait for reply bytes.
    let commandTimeout: Duration

    /// hiredis reads 16 KiB at a time, too.
    private static let bufferSize = 16 * 1024

    init(socket: RedisSocket, commandTimeout: Duration) throws {
        guard let reader = redisReaderCreate() else {
            throw RedisError(.outOfMemory, "could not allocate a hiredis reader")
        }
        self.socket = socket
        self.reader = reader
        self.buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
        self.commandTimeout = commandTimeout
    }

    deinit {
        socket.close()
        redisReaderFree(reader)
        buffer.deallocate()
    }

    func close() {
        socket.close()
    }

    // MARK: - Sending

    /// Formats `commands` and writes them in one go (one `write` for a pipeline).
    func send(_ commands: [[[UInt8]]], context: String) throws {
        if commands.count == 1 {
            let (pointer, length) = try Self.format(commands[0])
            defer { redisFreeCommand(pointer) }
            try socket.write(UnsafeRawBufferPointer(start: pointer, count: length), timeout: commandTimeout, context: context)
            return
        }
        var bytes: [UInt8] = []
        for arguments in commands {
            let (pointer, length) = try Self.format(arguments)
            defer { redisFreeCommand(pointer) }
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: length))
        }
        try bytes.withUnsafeBytes { raw in
            try socket.write(raw, timeout: commandTimeout, context: context)
        }
    }

    /// One command, one reply (error replies as values).
    func roundTrip(_ arguments: [[UInt8]], context: String) throws -> RedisValue {
        try send([arguments], context: context)
        return try receive(context: context)
    }

    // MARK: - Receiving

    /// The next reply, waiting at most ``commandTimeout`` for each chunk of bytes.
    /// - Throws: ``RedisError/Code/timeout`` when the server stays silent that long.
    func receive(context: String) throws -> RedisValue {
        while true {
            if let value = try parsedReply() { return value }
            guard let count = try socket.read(into: buffer, until: ContinuousClock.now + commandTimeout, context: context) else {
                throw RedisError(.timeout, "timed out trying to \(context) (\(RedisSocket.describe(EAGAIN)))")
            }
            try feed(count)
        }
    }

    /// The next reply if one arrives by `deadline`; nil otherwise, with a partial reply kept buffered.
    func receive(until deadline: ContinuousClock.Instant, context: String) throws -> RedisValue? {
        while true {
            if let value = try parsedReply() { return value }
            guard let count = try socket.read(into: buffer, until: deadline, context: context) else { return nil }
            try feed(count)
        }
    }

    private func feed(_ count: Int) throws {
        let base = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
        guard redisReaderFeed(reader, base, count) == REDIS_OK else {
            throw RedisError(.outOfMemory, "out of memory trying to buffer a reply")
        }
    }

    /// A complete reply from the bytes buffered so far, or nil.
    private func parsedReply() throws -> RedisValue? {
        var reply: UnsafeMutablePointer<redisReply>?
        guard chiredis_reader_get_reply(reader, &reply) == REDIS_OK else {
            let text = withUnsafeBytes(of: reader.pointee.errstr) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if reader.pointee.err == REDIS_ERR_OOM {
                throw RedisError(.outOfMemory, "out of memory trying to parse a reply")
            }
            throw RedisError(.protocol, "protocol error trying to parse a reply: \(text.isEmpty ? "invalid reply" : text)\(tlsHint)")
        }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return try Self.value(of: reply)
    }

    /// A TLS record where a reply should start: the port speaks TLS.
    private var tlsHint: String {
        socket.isTLS ? "" : " (if the server expects TLS, use rediss://)"
    }

    // MARK: - hiredis plumbing

    /// `redisFormatCommandArgv`: the RESP bytes of one command, freed by the caller with `redisFreeCommand`.
    private static func format(_ arguments: [[UInt8]]) throws -> (UnsafeMutablePointer<CChar>, Int) {
        guard !arguments.isEmpty else {
            throw RedisError(.invalidCommand, "a command needs at least its name")
        }
        var target: UnsafeMutablePointer<CChar>?
        let length = withArgv(arguments) { argc, argv, lengths in
            redisFormatCommandArgv(&target, argc, argv, lengths)
        }
        guard length >= 0, let target else {
            throw RedisError(.outOfMemory, "out of memory trying to format a command")
        }
        return (target, Int(length))
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
}
