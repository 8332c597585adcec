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

/// Issue 11 (4): createapplication never creates a second application for one task id, and its result (which
/// holds the generated secret) has its own short TTL.
@Suite("createapplication fencing", .enabled(if: TestEnvironment.shouldRunPostgres && TestEnvironment.shouldRunRedis))
struct CreateApplicationFenceTests {
    @Test("a second delivery of one task id defers, then answers without the secret; one application only")
    func secondDelivery() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_fence") { database in
            let setup = try await database.connect()
            _ = try await DOTSchema.migrate(on: setup)
            try await BrokerScope.with("fence") { scope in
                let worker = try WorkerProcess(
                    ["-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--createapplication-result-expires", "120"],
                    environment: ["DATABASE_URL": database.url]
                )
                try await worker.waitUntilReady()
                let first = try await scope.publish("createapplication", args: ["confidential", "client-credentials"], kwargs: ["name": "fence"])
                #expect(try await eventually(timeout: .seconds(60)) { try await scope.result(first.id)?.state == .success })
                let created = try #require(try await scope.result(first.id)?.result.objectValue)
                let clientID = try #require(created["client_id"]?.stringValue)
                #expect(clientID.count == 40)
                #expect(created["client_secret"]?.stringValue?.isEmpty == false)
                let ttl = try await scope.ttl(CeleryResult.key(taskID: first.id))
                #expect((1...120).contains(ttl), "the createapplication result TTL is \(ttl)")

                // The first delivery's result is lost (its worker died after COMMIT): a redelivered copy waits first.
                _ = try await scope.connection.command("DEL", CeleryResult.key(taskID: first.id))
                try await scope.pushRaw(first.redelivered())
                let delayed = RedisBroker.Keys(prefix: scope.prefix).delayed
                #expect(try await eventually(timeout: .seconds(30)) { try await scope.connection.command("ZCARD", delayed).int == 1 })
                #expect(try await scope.result(first.id) == nil)
                #expect(try await eventually { worker.log.contains("createapplication[\(first.id)] DEFERRED") })

                // After the last deferral it answers without the secret.
                var headers = first.headers
                headers[CeleryMessage.deferredHeader] = 30
                headers["redelivered"] = true
                var envelope = first.envelope
                envelope["headers"] = .object(headers)
                try await scope.pushRaw(JSONValue.object(envelope).serialized())
                #expect(try await eventually(timeout: .seconds(30)) { try await scope.result(first.id)?.state == .success })
                let answer = try #require(try await scope.result(first.id)?.result.objectValue)
                #expect(answer["client_id"]?.stringValue == clientID)
                #expect(answer["client_secret"] == nil)
                // The deferred copy comes back, finds that SUCCESS and is dropped.
                #expect(try await eventually(timeout: .seconds(30)) { try await scope.connection.command("ZCARD", delayed).int == 0 })
                #expect(try await eventually { worker.log.contains("redelivered duplicate, not run again") })

                let rows = try await setup.query("SELECT count(*) FROM oauth2_provider_application WHERE name = \("fence")").rows
                #expect(try rows.first?.decode(Int64.self, column: 0) == 1)
                worker.send(SIGTERM)
                #expect(await worker.waitForExit() == 0)
            }
        }
    }
}
