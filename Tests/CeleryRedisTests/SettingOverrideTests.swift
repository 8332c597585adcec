import Foundation
import CeleryProtocol
import CeleryRedis
import OAuthMaintenance
import Postgres
import Redis
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11 (6): a message may override DOT settings only within bounds; `--no-setting-overrides` ignores them.
@Suite("setting overrides", .enabled(if: TestEnvironment.shouldRunPostgres && TestEnvironment.shouldRunRedis))
struct SettingOverrideTests {
    @Test("out-of-bounds overrides are dead-lettered with ValueError; with --no-setting-overrides they are ignored")
    func bounds() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_overrides") { database in
            let setup = try await database.connect()
            _ = try await DOTSchema.migrate(on: setup)
            try await BrokerScope.with("overrides") { scope in
                let hostile: JSONObject = ["CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": .double(1e300), "refresh_token_expire_seconds": 1]
                for ignoring in [false, true] {
                    let worker = try WorkerProcess(
                        ["-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix] + (ignoring ? ["--no-setting-overrides"] : []),
                        environment: ["DATABASE_URL": database.url, "REFRESH_TOKEN_EXPIRE_SECONDS": "3600"]
                    )
                    try await worker.waitUntilReady()
                    let message = try await scope.publish("cleartokens", kwargs: hostile)
                    // STARTED/PROGRESS come first for cleartokens: wait for the final state.
                    #expect(try await eventually(timeout: .seconds(60)) { try await scope.result(message.id)?.state.isReady == true })
                    let result = try #require(try await scope.result(message.id))
                    if ignoring {
                        #expect(result.state == .success, "\(result)")
                    } else {
                        #expect(result.state == .failure)
                        #expect(result.exception?.type == "ValueError")
                        let letters = try await scope.list(RedisBroker.Keys(prefix: scope.prefix).dead).compactMap { try? DeadLetter.decode($0).get() }
                        #expect(letters.contains { $0.taskID == message.id && $0.reason.contains("from a task must be") })
                    }
                    worker.send(SIGTERM)
                    #expect(await worker.waitForExit() == 0)
                }
            }
        }
    }
}
