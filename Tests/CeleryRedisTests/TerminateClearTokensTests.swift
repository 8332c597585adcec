import Foundation
import CeleryProtocol
import Postgres
import Redis
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `oauthq revoke --terminate` on a running cleartokens: the task is cancelled through the time limits' path
/// (the batch statement gets a cancel request and rolls back), ends REVOKED, the rows deleted are whole
/// batches, and a second run leaves exactly the rows DOT's own cleartokens leaves.
@Suite(
    "revoke --terminate on a running cleartokens",
    .enabled(if: TestEnvironment.shouldRunRedis && TestEnvironment.shouldRunPostgres && PythonReference.shouldRun)
)
struct TerminateClearTokensTests {
    static let batchSize = 100
    static let grants = 3_000

    @Test("terminated mid-run: REVOKED, whole batches deleted; a second run ends with DOT's rows")
    func terminate() async throws {
        let ours = try await TemporaryDatabase.create(prefix: "ct_term")
        defer { Task { try? await ours.drop() } }
        let migrate = try await PythonReference.run("manage.py", ["migrate", "--verbosity", "0"], environment: ["DATABASE_URL": ours.url])
        try #require(migrate.status == 0, "manage.py migrate failed: \(migrate.stderr)")
        let owners = try await PythonReference.run("seed.py", ["--count", "1", "--seed", "5"], environment: ["DATABASE_URL": ours.url])
        try #require(owners.status == 0, "seed failed: \(owners.stderr)")
        // Grants only (the other passes have nothing to do): every third one live, the rest expired days ago.
        let setup = try await ours.connect()
        try await setup.execute(
            """
            INSERT INTO oauth2_provider_grant (code, expires, redirect_uri, scope, application_id, user_id, created, updated,
              code_challenge, code_challenge_method, nonce, claims, resource)
            SELECT 'g-' || n, CASE WHEN n % 3 = 0 THEN now() + interval '30 days' ELSE now() - interval '3 days' END,
              'https://example.com/cb', 'read', (SELECT min(id) FROM oauth2_provider_application),
              (SELECT min(id) FROM auth_user), now() - interval '40 days', now(), '', '', '', '', '[]'
            FROM generate_series(1, \(Self.grants)) n
            """
        )
        let ids = try await Self.grantIDs(setup)
        let due = try await Self.grantIDs(setup, expiredOnly: true)
        await setup.close()
        let dot = try await TemporaryDatabase.create(prefix: "ct_term_dot", template: ours.name)
        defer { Task { try? await dot.drop() } }

        try await BrokerScope.with("terminate") { scope in
            let worker = try WorkerProcess(
                ["-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--result-expires", "600"],
                environment: ["DATABASE_URL": ours.url]
            )
            try await worker.waitUntilReady()
            let kwargs: JSONObject = ["CLEAR_EXPIRED_TOKENS_BATCH_SIZE": .int(Int64(Self.batchSize)), "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": 0.5]  // ~15 s in all: time for the revoke CLI on a loaded machine
            let task = try await scope.publish("cleartokens", kwargs: kwargs)

            // Terminate once a few batches have committed.
            let watcher = try await ours.connect()
            let started = try await eventually(timeout: .seconds(30)) { try await Self.grantIDs(watcher).count <= ids.count - 3 * 66 }
            try #require(started, "cleartokens did not start deleting:\n\(worker.log)")
            let revoke = try await CeleryToolsTests.oauthq(["revoke", "--terminate", "--key-prefix", scope.prefix, task.id], redisURL: TestEnvironment.redisURL)
            #expect(revoke.status == 0, "\(revoke.stderr)")
            #expect(revoke.stdout.contains("terminated: \(task.id)"), "\(revoke.stdout)")
            var result: CeleryResult?
            #expect(try await eventually(timeout: .seconds(15)) {
                result = try await scope.result(task.id)
                return result?.state == .revoked && result?.exception?.messages == ["terminated"]
            }, "not REVOKED: \(String(describing: result))\n\(worker.log)")
            #expect(result?.exception?.type == "TaskRevokedError")
            #expect(result?.exception?.messages == ["terminated"])

            // Whole batches: the pass walks id windows of `batchSize` from the first id; every expired grant below
            // some window boundary is gone, every one above it is still there, and no live grant was touched.
            let left = try await Self.grantIDs(watcher)
            let deleted = Set(ids).subtracting(left)
            #expect(deleted.isSubset(of: Set(due)), "a live grant was deleted")
            #expect(!deleted.isEmpty && deleted.count < due.count, "terminate came too late or too early: \(deleted.count) of \(due.count)")
            let first = try #require(ids.first)
            let boundary = (deleted.max() ?? first) - first
            let windowEnd = first + (boundary / Int64(Self.batchSize) + 1) * Int64(Self.batchSize)
            #expect(Set(due.filter { $0 < windowEnd }) == deleted, "deleted rows are not whole id windows")

            // The job finishes on a second run; the rows are DOT's.
            let second = try await scope.publish("cleartokens", kwargs: ["CLEAR_EXPIRED_TOKENS_BATCH_SIZE": .int(Int64(Self.batchSize))])
            #expect(try await eventually(timeout: .seconds(30)) { try await scope.result(second.id)?.state == .success }, "\(worker.log)")
            let reference = try await PythonReference.run(
                "cleartokens_at.py", ["--now", CeleryTimestamp.format(Date())], environment: ["DATABASE_URL": dot.url]
            )
            #expect(reference.status == 0, "DOT failed: \(reference.stderr)")
            let dotConnection = try await dot.connect()
            #expect(try await Self.grantIDs(watcher) == (try await Self.grantIDs(dotConnection)))
            #expect(try await Self.grantIDs(watcher).count == ids.count - due.count)
            await dotConnection.close()
            await watcher.close()
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    static func grantIDs(_ connection: PostgresConnection, expiredOnly: Bool = false) async throws -> [Int64] {
        let rows = expiredOnly
            ? try await connection.query("SELECT id FROM oauth2_provider_grant WHERE expires < now() ORDER BY id").rows
            : try await connection.query("SELECT id FROM oauth2_provider_grant ORDER BY id").rows
        return try rows.map { try $0.decode(Int64.self, column: 0) }
    }
}
