import Foundation
import Redis
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `oauthq beat --log-format json`: the same lines as JSON objects.
@Suite(.enabled(if: TestEnvironment.shouldRunRedis))
struct BeatJSONLogTests {
    @Test("--log-format json: every line is a JSON object from logger oauthq.beat", .timeLimit(.minutes(1)))
    func jsonLines() async throws {
        let prefix = TestEnvironment.uniqueName("beatjson")
        let beat = try BeatChildProcess(
            RepositoryPaths.oauthqBinary,
            ["beat", "--redis-url", TestEnvironment.redisURL, "--key-prefix", prefix, "--queue", prefix + "_q",
             "--entry", "ping every 1s", "--log-format", "json"])
        #expect(await beat.waitForLog(timeout: 15) { $0.contains("beat: sent") }, "\(beat.log)")
        beat.kill(SIGINT)
        #expect(await beat.waitForExit() == 0)
        let lines = beat.log.split(separator: "\n")
        #expect(lines.count >= 3)
        var messages: [String] = []
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["logger"] as? String == "oauthq.beat", "not a JSON beat line: \(line)")
            #expect((object?["timestamp"] as? String)?.hasSuffix("Z") == true)
            messages.append(object?["message"] as? String ?? "")
        }
        #expect(messages.contains { $0.hasPrefix("beat: entry \"ping every 1s\"") })
        #expect(messages.contains { $0.hasPrefix("beat: sent ping") })
        #expect(messages.contains("beat: released the lock"))
        let redis = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
        try await deleteKeys(redis, matching: prefix + "*")
        try await deleteKeys(redis, matching: "_kombu.binding.\(prefix)*")
        await redis.close()
    }
}
