import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import TestSupport
import Testing

/// ``RedisResultBackend``: one reading rule for every caller (absent → PENDING; unreadable → an error with a code),
/// the SUCCESS guard on store, and waiting on the result channel. Against the shared Redis, one task id per test.
@Suite("RedisResultBackend against the shared Redis", .enabled(if: TestEnvironment.shouldRunRedis))
struct RedisResultBackendTests {
    let backend = RedisResultBackend(resultExpires: 600)

    /// Runs `body` with a connection and a fresh task id, deleting the id's result afterwards.
    func withTask(_ body: (RedisConnection, String) async throws -> Void) async throws {
        let connection = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
        let taskID = TestEnvironment.uniqueName("oauthq_test_result")
        do {
            try await body(connection, taskID)
        } catch {
            _ = try? await connection.command("DEL", CeleryResult.key(taskID: taskID))
            await connection.close()
            throw error
        }
        _ = try? await connection.command("DEL", CeleryResult.key(taskID: taskID))
        await connection.close()
    }

    @Test("no record: PENDING with no raw bytes, also through the broker's backend")
    func absentIsPending() async throws {
        try await withTask { connection, taskID in
            let reading = try await backend.fetch(taskID: taskID, on: connection)
            #expect(reading.result.state == .pending)
            #expect(reading.result.taskID == taskID)
            #expect(reading.raw == nil)
            #expect(try await RedisBroker(keyPrefix: "unused").results.fetch(taskID: taskID, on: connection).raw == nil)
        }
    }

    @Test("a stored result reads back byte for byte, through the backend and the broker's backend")
    func storedReadsBack() async throws {
        try await withTask { connection, taskID in
            let result = CeleryResult(taskID: taskID, state: .success, result: ["deleted": 3])
            #expect(try await backend.store(result, on: connection))
            let raw = try await connection.command("GET", CeleryResult.key(taskID: taskID)).bytes
            let reading = try await backend.fetch(taskID: taskID, on: connection)
            #expect(reading.raw == raw)
            #expect(reading.result.state == .success)
            #expect(reading.result.result == ["deleted": 3])
            let forwarded = try await RedisBroker(keyPrefix: "unused", resultExpires: 600).results.fetch(taskID: taskID, on: connection).result
            #expect(forwarded.state == .success)
            #expect(forwarded.result == ["deleted": 3])
            let ttl = try await connection.command("TTL", CeleryResult.key(taskID: taskID)).int ?? -3
            #expect((1...600).contains(ttl))
        }
    }

    @Test("an unreadable record is an error with a code, for every reader, and its content is not echoed", arguments: [
        ("not json at all: hunter2", "invalidJSON"),
        (#"["hunter2"]"#, "notAnObject"),
        (#"{"result": "hunter2", "task_id": "x"}"#, "missingField(status)"),
    ])
    func unreadableIsAnError(record: String, decodingCode: String) async throws {
        try await withTask { connection, taskID in
            _ = try await connection.command("SET", CeleryResult.key(taskID: taskID), record, "EX", "600")
            let error = await #expect(throws: RedisResultBackendError.self) {
                try await backend.fetch(taskID: taskID, on: connection)
            }
            #expect(error?.code == .unreadableResult)
            #expect(error?.taskID == taskID)
            #expect(error?.decoding.code.description == decodingCode)
            #expect(error.map { !$0.description.contains("hunter2") } == true)
            #expect(error?.description.contains(taskID) == true)
            let forwarded = await #expect(throws: RedisResultBackendError.self) {
                try await RedisBroker(keyPrefix: "unused").results.fetch(taskID: taskID, on: connection)
            }
            #expect(forwarded?.code == .unreadableResult)
        }
    }

    @Test("a key of another type is a Redis error (WRONGTYPE), not PENDING")
    func wrongType() async throws {
        try await withTask { connection, taskID in
            _ = try await connection.command("RPUSH", CeleryResult.key(taskID: taskID), "x")
            let error = await #expect(throws: RedisError.self) { try await backend.fetch(taskID: taskID, on: connection) }
            #expect(error?.serverPrefix == "WRONGTYPE")
        }
    }

    @Test("store never replaces a stored SUCCESS, and stores over anything else")
    func successGuard() async throws {
        try await withTask { connection, taskID in
            #expect(try await backend.store(CeleryResult(taskID: taskID, state: .started), on: connection))
            #expect(try await backend.store(CeleryResult(taskID: taskID, state: .success, result: 1), on: connection))
            let failure = CeleryResult(
                taskID: taskID, state: .failure,
                result: CeleryResult.ExceptionInfo(type: "ValueError", module: "builtins", messages: ["late"]).json)
            #expect(try await backend.store(failure, on: connection) == false)
            #expect(try await RedisBroker(keyPrefix: "unused").results.store(failure, on: connection) == false)
            let reading = try await backend.fetch(taskID: taskID, on: connection)
            #expect(reading.result.state == .success)
            #expect(reading.result.result == 1)
        }
    }

    @Test("store with expires: the shorter lifetime is the key's TTL")
    func storeExpires() async throws {
        try await withTask { connection, taskID in
            #expect(try await backend.store(CeleryResult(taskID: taskID, state: .success), on: connection, expires: 5))
            let ttl = try await connection.command("TTL", CeleryResult.key(taskID: taskID)).int ?? -3
            #expect((1...5).contains(ttl))
        }
    }

    @Test("wait: progress for STARTED, then the published SUCCESS")
    func waitForPublished() async throws {
        try await withTask { connection, taskID in
            let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
            let subscriber = try await RedisConnection.connect(configuration)
            let reader = try await RedisConnection.connect(configuration)
            try await backend.subscribe(taskID: taskID, on: subscriber)
            let seen = AsyncStream<CeleryResult.State>.makeStream()
            let waiting = Task {
                try await backend.wait(taskID: taskID, subscriber: subscriber, reader: reader, timeout: .seconds(30)) { progress in
                    seen.continuation.yield(progress.result.state)
                }
            }
            try await backend.store(CeleryResult(taskID: taskID, state: .started), on: connection)
            var states = seen.stream.makeAsyncIterator()
            #expect(await states.next() == .started)
            try await backend.store(CeleryResult(taskID: taskID, state: .success, result: "pong"), on: connection)
            let reading = try await waiting.value
            #expect(reading.result.state == .success)
            #expect(reading.result.result == "pong")
            await subscriber.close()
            await reader.close()
        }
    }

    @Test("wait: an unreadable published record ends the wait with the backend's error")
    func waitUnreadablePublished() async throws {
        try await withTask { connection, taskID in
            let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
            let subscriber = try await RedisConnection.connect(configuration)
            let reader = try await RedisConnection.connect(configuration)
            try await backend.subscribe(taskID: taskID, on: subscriber)
            let waiting = Task {
                try await backend.wait(taskID: taskID, subscriber: subscriber, reader: reader, timeout: .seconds(30))
            }
            // PUBLISH returns how many subscribers got it: repeat until the waiter's subscription has.
            let published = try await eventually(timeout: .seconds(10)) {
                (try await connection.command("PUBLISH", CeleryResult.key(taskID: taskID), "{oops").int ?? 0) > 0
            }
            #expect(published)
            let error = await #expect(throws: RedisResultBackendError.self) { try await waiting.value }
            #expect(error?.code == .unreadableResult)
            await subscriber.close()
            await reader.close()
        }
    }

    @Test("wait: time runs out with nothing stored: PENDING")
    func waitTimesOut() async throws {
        try await withTask { _, taskID in
            let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
            let subscriber = try await RedisConnection.connect(configuration)
            let reader = try await RedisConnection.connect(configuration)
            try await backend.subscribe(taskID: taskID, on: subscriber)
            let start = ContinuousClock.now
            let reading = try await backend.wait(taskID: taskID, subscriber: subscriber, reader: reader, timeout: .milliseconds(300))
            #expect(ContinuousClock.now - start >= .milliseconds(300))
            #expect(reading.result.state == .pending)
            #expect(reading.raw == nil)
            await subscriber.close()
            await reader.close()
        }
    }

    @Test("markRevoked: an absent id is marked REVOKED; an unreadable record and a SUCCESS are left alone")
    func markRevokedUsesTheBackend() async throws {
        try await withTask { connection, absent in
            let unreadable = absent + "_unreadable"
            let succeeded = absent + "_succeeded"
            _ = try await connection.command("SET", CeleryResult.key(taskID: unreadable), "garbage", "EX", "600")
            try await backend.store(CeleryResult(taskID: succeeded, state: .success), on: connection)
            let marked = try await RedisBroker(keyPrefix: "unused", resultExpires: 600).markRevoked(
                [absent, unreadable, succeeded], on: connection)
            #expect(marked == 1)
            #expect(try await backend.fetch(taskID: absent, on: connection).result.state == .revoked)
            #expect(try await connection.command("GET", CeleryResult.key(taskID: unreadable)).string == "garbage")
            #expect(try await backend.fetch(taskID: succeeded, on: connection).result.state == .success)
            _ = try await connection.command("DEL", CeleryResult.key(taskID: unreadable), CeleryResult.key(taskID: succeeded))
        }
    }
}
