import CeleryProtocol
import Redis

/// Reads many results at once: the state per task id (nil: none stored).
func resultStates(_ ids: [String], on connection: RedisConnection) async throws -> [String: CeleryResult] {
    var results: [String: CeleryResult] = [:]
    var index = 0
    while index < ids.count {
        let chunk = Array(ids[index..<min(index + 500, ids.count)])
        index += chunk.count
        let reply = try await connection.command([Array("MGET".utf8)] + chunk.map { Array(CeleryResult.key(taskID: $0).utf8) })
        for (id, value) in zip(chunk, reply.array ?? []) {
            if let bytes = value.bytes, let result = try? CeleryResult.decode(bytes).get() {
                results[id] = result
            }
        }
    }
    return results
}

/// Pipelined LPUSH of many messages to one list.
func pushAll(_ messages: [[UInt8]], list: String, on connection: RedisConnection) async throws {
    var index = 0
    while index < messages.count {
        let chunk = messages[index..<min(index + 500, messages.count)]
        index += chunk.count
        _ = try await connection.command([Array("LPUSH".utf8), Array(list.utf8)] + chunk)
    }
}
