/// One question to one sentinel: where is the master named so? (`SENTINEL get-master-addr-by-name`).
/// Runs on the calling connection's thread; the sentinel connection lives only for the question.
enum RedisSentinelQuery {
    /// The master's address as `node` knows it, or nil when it knows no master of that name.
    /// - Throws: a transient ``RedisError`` when the sentinel cannot be reached or answers oddly; a
    ///   permanent one for TLS failures or a refused `AUTH`.
    static func masterAddress(
        of master: String,
        asking node: RedisConfiguration.SentinelNode,
        configuration: RedisConfiguration
    ) throws -> (host: String, port: Int)? {
        let tls = try configuration.tls.map(RedisTLSContext.shared(for:))
        let socket = try RedisSocket.connect(host: node.host, port: node.port, timeout: configuration.connectTimeout, tls: tls)
        let wire = try RedisWire(socket: socket, commandTimeout: configuration.connectTimeout)
        defer { wire.close() }
        if let password = configuration.sentinelPassword {
            var arguments: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = configuration.sentinelUsername { arguments.append(Array(username.utf8)) }
            arguments.append(Array(password.utf8))
            let reply = try wire.roundTrip(arguments, context: "authenticate to the sentinel \(socket.peer)")
            if case .error(let message) = reply {
                throw RedisError.server(message, context: "AUTH to the sentinel \(socket.peer) failed")
            }
        }
        let reply = try wire.roundTrip(
            ["SENTINEL", "get-master-addr-by-name", master].map { Array($0.utf8) },
            context: "ask the sentinel \(socket.peer)"
        )
        switch reply {
        case .null:
            return nil
        case .array(let parts) where parts.count == 2:
            guard let host = parts[0].string, !host.isEmpty, host.utf8.count <= 255,
                host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:%".contains($0)) }),
                let portText = parts[1].string, portText.utf8.count <= 5,
                let port = Int(portText), (1...65_535).contains(port)
            else {
                throw RedisError(.io, "the sentinel \(socket.peer) gave a malformed master address")
            }
            return (host, port)
        case .error(let message):
            // e.g. NOAUTH when the sentinel wants a password: permanent; anything else: try another sentinel.
            let error = RedisError.server(message, context: "the sentinel \(socket.peer) refused")
            if error.serverPrefix == "NOAUTH" || error.serverPrefix == "WRONGPASS" { throw error }
            throw RedisError(.io, error.message)
        default:
            throw RedisError(.io, "the sentinel \(socket.peer) answered \(reply.description) instead of an address")
        }
    }
}
