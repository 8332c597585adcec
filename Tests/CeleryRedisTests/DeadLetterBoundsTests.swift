import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import Testing
import TestSupport

/// Issue 11 (5): dead letters have a maximum count and age; what is dropped is reported.
@Suite("dead-letter bounds", .enabled(if: TestEnvironment.shouldRunRedis))
struct DeadLetterBoundsTests {
    @Test("the oldest beyond the count go first, then those older than the age limit; garbage at the head is dropped")
    func trim() async throws {
        try await BrokerScope.with("deadbounds") { scope in
            let broker = scope.broker()
            let now = Date()
            func letter(ageSeconds: Double, _ index: Int) -> [UInt8] {
                DeadLetter(reason: "r\(index)", time: now.addingTimeInterval(-ageSeconds), queue: "q", worker: "w", original: [UInt8(index)]).encoded()
            }
            // 3 very old, 12 recent (oldest first, as workers append them), plus one unreadable record at the head.
            _ = try await scope.connection.command([Array("RPUSH".utf8), Array(broker.keys.dead.utf8), Array("garbage".utf8)])
            for index in 0..<3 {
                _ = try await scope.connection.command([Array("RPUSH".utf8), Array(broker.keys.dead.utf8), letter(ageSeconds: 30 * 86_400, index)])
            }
            for index in 3..<15 {
                _ = try await scope.connection.command([Array("RPUSH".utf8), Array(broker.keys.dead.utf8), letter(ageSeconds: 60, index)])
            }
            // Count limit 14: the garbage and one old record go; then the age limit takes the other two old ones.
            let dropped = try await broker.trimDeadLetters(maximumCount: 14, maximumAge: .seconds(86_400), now: now, on: scope.connection)
            #expect(dropped == 4)
            let left = try await scope.list(broker.keys.dead).compactMap { try? DeadLetter.decode($0).get() }
            #expect(left.map(\.reason) == (3..<15).map { "r\($0)" })
            // Count only.
            #expect(try await broker.trimDeadLetters(maximumCount: 5, maximumAge: nil, on: scope.connection) == 7)
            #expect(try await scope.length(broker.keys.dead) == 5)
            // A dead list of the wrong type is left alone.
            _ = try await scope.connection.command("DEL", broker.keys.dead)
            _ = try await scope.connection.command("SET", broker.keys.dead, "x")
            #expect(try await broker.trimDeadLetters(maximumCount: 1, maximumAge: .seconds(1), on: scope.connection) == 0)
        }
    }
}
