import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import Testing
import TestSupport

/// The state behind Celery's tools on an oauthq worker: the shared revoked set, the queue pauses, the health
/// status and the task-event buffer, without a worker process.
@Suite("Celery tools state: revoked set, queue pauses, health")
struct CeleryToolsStateTests {
    @Test("revoke requests: ids capped in count and length, empty and duplicate ids dropped, order kept")
    func acceptableIDs() {
        #expect(RevokedSet.acceptable(["b", "a", "", "b", String(repeating: "x", count: 257)]) == ["b", "a"])
        #expect(RevokedSet.acceptable((0..<20_000).map(String.init)).count == RevokedSet.maximumIDsPerRequest)
    }

    @Test("queue selection: paused and cancelled queues are skipped, added ones appended; a pause waits for fetches in flight")
    func pauses() async {
        let pauses = QueuePauses(keyPrefix: "t")
        #expect(pauses.consumed(from: ["a", "b"]) == ["a", "b"])
        pauses.cancelLocally("a")
        pauses.addLocally("c")
        #expect(pauses.consumed(from: ["a", "b"]) == ["b", "c"])
        pauses.addLocally("a")
        #expect(pauses.consumed(from: ["a", "b"]) == ["a", "b", "c"])

        // A fetch that read the old selection holds the acknowledgement until it returns.
        _ = pauses.beginFetch(slot: 0, order: ["a", "b"])
        pauses.cancelLocally("b")
        #expect(await pauses.waitForFetches(timeout: .milliseconds(50)) == false)
        pauses.endFetch(slot: 0)
        #expect(await pauses.waitForFetches(timeout: .milliseconds(50)) == true)
        #expect(pauses.beginFetch(slot: 0, order: ["a", "b"]) == ["a", "c"])
        pauses.endFetch(slot: 0)
    }

    @Test("health: starting, ok, stale heartbeat, a slot down, shutting down")
    func health() {
        let health = WorkerHealth(heartbeatTTL: .seconds(5), slots: 2)
        #expect(health.status().healthy == false)
        #expect(health.status().reason.hasPrefix("starting"))
        let beat = ContinuousClock.now
        health.heartbeatWritten(at: beat)
        #expect(health.status(now: beat).reason.hasPrefix("slot 0 has no Redis connection"))
        health.slot(0, connected: true)
        health.slot(1, connected: true)
        #expect(health.status(now: beat) == (true, "ok"))
        #expect(health.status(now: beat + .seconds(6)).reason.hasPrefix("heartbeat stale"))
        health.slot(1, connected: false)
        #expect(health.status(now: beat).reason.hasPrefix("slot 1 has no Redis connection"))
        health.stopping()
        #expect(health.status(now: beat) == (false, "shutting down"))
    }

    @Test(
        "the revoked set in Redis: TTL scores, reload on version change, hostile members and scores read back without a trap",
        .enabled(if: TestEnvironment.shouldRunRedis)
    )
    func revokedSetInRedis() async throws {
        try await BrokerScope.with("revokedset") { scope in
            let set = RevokedSet(keyPrefix: scope.prefix)
            let now = Date()
            try await set.add(["a", "b"], ttl: .seconds(60), on: scope.connection, now: now)
            #expect(set.contains("a", now: now) && !set.contains("c", now: now))
            #expect(!set.contains("a", now: now.addingTimeInterval(61)), "a revoke expires with its TTL")

            // Another process (a worker, oauthq revoke) adds one: a second copy sees it after a refresh.
            let other = RevokedSet(keyPrefix: scope.prefix)
            #expect(try await other.refresh(on: scope.connection, now: now))
            #expect(other.ids(now: now) == ["a", "b"])
            #expect(try await other.refresh(on: scope.connection, now: now) == false, "unchanged version: no reload")

            // Hostile values written by hand: an infinite score, a huge one, a negative one, an over-long member.
            _ = try await scope.connection.command("ZADD", set.key, "+inf", "forever", "1e300", "huge", "-5", "old")
            _ = try await scope.connection.command("ZADD", set.key, "1e15", String(repeating: "z", count: 300))
            _ = try await scope.connection.command("SET", set.versionKey, "99999999999999999999999999")
            #expect(try await other.refresh(on: scope.connection, now: now))
            #expect(other.contains("forever", now: now) && other.contains("huge", now: now))
            #expect(!other.contains("old", now: now))
            #expect(!other.ids(now: now).contains { $0.count > RevokedSet.maximumIDBytes })

            // A key of the wrong type: refresh keeps the copy instead of failing the maintenance loop.
            _ = try await scope.connection.command("DEL", set.key)
            _ = try await scope.connection.command("LPUSH", set.key, "x")
            _ = try await scope.connection.command("SET", set.versionKey, "changed")
            #expect(try await other.refresh(on: scope.connection, now: now) == false)
            #expect(other.contains("huge", now: now))
            _ = try await scope.connection.command("DEL", set.key)

            // A shorter revoke never shortens a longer one (ZADD GT).
            try await set.add(["a"], ttl: .seconds(60), on: scope.connection, now: now)
            try await set.add(["a"], ttl: .seconds(1), on: scope.connection, now: now)
            let third = RevokedSet(keyPrefix: scope.prefix)
            try await third.refresh(on: scope.connection, now: now)
            #expect(third.contains("a", now: now.addingTimeInterval(30)))
        }
    }

    @Test("task events: nothing is buffered while off; the enable switch reports changes")
    func eventsSwitch() {
        let emitter = TaskEventEmitter(hostname: "h", database: 0, enabled: false)
        #expect(!emitter.isEnabled)
        #expect(emitter.setEnabled(true))
        #expect(!emitter.setEnabled(true))
        #expect(emitter.setEnabled(false))
    }
}
