import Redis
import Testing
import TestSupport

@Suite("RedisValue and RedisError (no server)")
struct RedisValueAndErrorTests {
    @Test("conveniences read only the matching kinds")
    func conveniences() {
        #expect(RedisValue.bulk(Array("héllo".utf8)).string == "héllo")
        #expect(RedisValue.status("OK").string == "OK")
        #expect(RedisValue.integer(3).string == nil)
        #expect(RedisValue.integer(42).int == 42)
        #expect(RedisValue.bulk(Array("-17".utf8)).int == -17)
        #expect(RedisValue.bulk(Array("x".utf8)).int == nil)
        #expect(RedisValue.null.isNull)
        #expect(!RedisValue.bulk([]).isNull)
        #expect(RedisValue.array([.integer(1), .null]).array == [.integer(1), .null])
        #expect(RedisValue.null.array == nil)
        #expect(RedisValue.error("ERR x").errorMessage == "ERR x")
        #expect(RedisValue.bulk([0, 1]).bytes == [0, 1])
    }

    @Test("a bulk value's description shows its length, never its bytes")
    func valueDescription() {
        let value = RedisValue.array([.bulk(Array("token-abc".utf8)), .integer(2)])
        #expect(value.description == "array[bulk(9 bytes), integer(2)]")
    }

    @Test("description format and transient classification")
    func serverRedaction() {
        let error = RedisError(.server, "x", serverPrefix: "ERR")
        #expect(error.description == "RedisError(server, ERR): x")
        #expect(error.isTransient == false)
        #expect(RedisError(.eof, "x").isTransient)
        #expect(RedisError(.timeout, "x").isTransient)
        #expect(RedisError(.other, "x").isTransient)
        #expect(!RedisError(.invalidURL, "x").isTransient)
        #expect(!RedisError(.protocol, "x").isTransient)
    }
}

@Suite("RedisReconnectPolicy (no server)")
struct RedisReconnectPolicyTests {

    @Test("without jitter the delays double up to the maximum")
    func exponentialWithoutJitter() {
        let policy = RedisReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(1), multiplier: 2, jitter: 0)
        let delays = (1...7).map { policy.delay(forRetry: $0) }
        #expect(delays == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
            .seconds(1), .seconds(1), .seconds(1),
        ])
        #expect(policy.baseDelay(forRetry: 10_000) == .seconds(1))  // no overflow
    }

    @Test("jitter stays within [base × (1 − jitter), base] and never exceeds the maximum")
    func jitterBounds() {
        let policy = RedisReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .seconds(2), multiplier: 3, jitter: 0.5)
        var generator = SplitMix64(state: 42)
        var seen = Set<Duration>()
        for retry in 1...12 {
            let base = policy.baseDelay(forRetry: retry)
            for _ in 0..<50 {
                let delay = policy.delay(forRetry: retry, using: &generator)
                #expect(delay <= base)
                #expect(delay >= base * 0.5 - .nanoseconds(1))
                #expect(delay <= .seconds(2))
                seen.insert(delay)
            }
        }
        #expect(seen.count > 100, "jitter should spread the delays")
        // The bases grow exponentially until capped.
        #expect(policy.baseDelay(forRetry: 1) == .milliseconds(50))
        #expect(policy.baseDelay(forRetry: 2) == .milliseconds(150))
        #expect(policy.baseDelay(forRetry: 3) == .milliseconds(450))
        #expect(policy.baseDelay(forRetry: 5) == .seconds(2))
    }

    @Test("the same seed gives the same delays")
    func deterministic() {
        let policy = RedisReconnectPolicy()
        var a = SplitMix64(state: 7)
        var b = SplitMix64(state: 7)
        #expect((1...5).map { policy.delay(forRetry: $0, using: &a) } == (1...5).map { policy.delay(forRetry: $0, using: &b) })
    }

    @Test("out-of-range parameters are clamped")
    func clamped() {
        let policy = RedisReconnectPolicy(initialDelay: .seconds(2), maxDelay: .seconds(1), multiplier: 0.5, jitter: 3, maxAttempts: 0)
        #expect(policy.maxDelay == .seconds(2))
        #expect(policy.multiplier == 1)
        #expect(policy.jitter == 1)
        #expect(policy.maxAttempts == 1)
    }
}
