import Testing

import CeleryProtocol

@Suite struct RetryPolicyTests {
    @Test func defaultsAreCeleryLike() {
        let p = RetryPolicy()
        #expect(p.maxRetries == 3 && p.base == .seconds(1) && p.maxDelay == .seconds(600) && p.jitter == .full)
        #expect(p.shouldRetry(retries: 0) && p.shouldRetry(retries: 2) && !p.shouldRetry(retries: 3))
        #expect(RetryPolicy(maxRetries: nil).shouldRetry(retries: 1_000_000))
    }

    @Test func ceilingsGrowAndCap() {
        let p = RetryPolicy(jitter: .none)
        var rng = SplitMix(seed: 1)
        let delays = (0..<12).map { p.delay(forAttempt: $0, using: &rng) }
        #expect(Array(delays.prefix(4)) == [.seconds(1), .seconds(2), .seconds(4), .seconds(8)])
        #expect(delays[9] == .seconds(512) && delays[10] == .seconds(600) && delays[11] == .seconds(600))
        #expect(p.delay(forAttempt: 5_000, using: &rng) == .seconds(600))
        #expect(p.delay(forAttempt: .max, using: &rng) == .seconds(600))
        #expect(p.delay(forAttempt: -3, using: &rng) == .seconds(1))
    }

    @Test func fullJitterStaysWithinTheCeiling() {
        let p = RetryPolicy()
        var rng = SplitMix(seed: 2)
        for attempt in 0..<15 {
            let ceiling = p.ceiling(forAttempt: attempt)
            var sum = Duration.zero
            for _ in 0..<200 {
                let d = p.delay(forAttempt: attempt, using: &rng)
                #expect(d >= .zero && d <= ceiling)
                sum += d
            }
            // The mean is about half the ceiling.
            let mean = sum / 200
            #expect(mean > ceiling * 0.35 && mean < ceiling * 0.65, "attempt \(attempt)")
        }
    }

    @Test func boundedJitterStaysInItsBand() {
        let p = RetryPolicy(base: .milliseconds(500), maxDelay: .seconds(30), jitter: .bounded(minimumFraction: 0.5))
        var rng = SplitMix(seed: 3)
        var previousCeiling = Duration.zero
        for attempt in 0..<12 {
            let ceiling = p.ceiling(forAttempt: attempt)
            #expect(ceiling >= previousCeiling && ceiling <= .seconds(30))
            previousCeiling = ceiling
            for _ in 0..<100 {
                let d = p.delay(forAttempt: attempt, using: &rng)
                #expect(d >= ceiling / 2 && d <= ceiling)
            }
        }
    }

    @Test func degenerateConfigurationsDoNotTrap() {
        var rng = SplitMix(seed: 4)
        #expect(RetryPolicy(base: .zero).delay(forAttempt: 3, using: &rng) == .zero)
        #expect(RetryPolicy(base: .seconds(-5)).delay(forAttempt: 3, using: &rng) == .zero)
        #expect(RetryPolicy(maxDelay: .zero).delay(forAttempt: 3, using: &rng) == .zero)
        let odd = RetryPolicy(jitter: .bounded(minimumFraction: .nan)).delay(forAttempt: 2, using: &rng)
        #expect(odd >= .zero && odd <= .seconds(4))
        #expect(RetryPolicy(jitter: .bounded(minimumFraction: 7)).delay(forAttempt: 2, using: &rng) == .seconds(4))
    }
}
