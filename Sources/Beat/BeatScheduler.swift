public import Foundation
import CeleryProtocol
public import Redis

/// What a beat does with ticks it missed while no beat was leader (down, or failing over).
public enum BeatCatchUp: String, Sendable, CaseIterable {
    /// Send the latest missed tick of each entry once, at once; skip the older ones.
    case once
    /// Skip every missed tick; wait for the next one.
    case none
}

/// Runs the schedule: takes part in leader election and, while leader, sends each due tick once.
///
/// - Election: every beat tries `SET lock token NX PX ttl` every `ttl/5` (1 s for the default 5 s); the leader
///   renews at the same pace with a token-checked script. A standby reads and writes nothing else, so it cannot
///   disturb the schedule state (RedBeat's redbeat#198). When the leader dies, its lock expires within `ttl` and a
///   standby takes over at its next try: failover within `ttl + ttl/5` (6 s by default).
/// - Leadership is only trusted until `lastRenewal + ttl`; a leader that cannot reach Redis stops sending before
///   a standby can take over. Each send is fenced by the lock token as well.
/// - On taking over (or starting), it reads each entry's last sent tick. With ``BeatCatchUp/once`` the latest
///   tick in `(last, now]` is sent once; an entry with no history starts at its next tick. Ticks are sent
///   through ``BeatTickSender``, so no tick is ever sent twice, even by two leaders.
public final class BeatScheduler: Sendable {
    /// Settings for one beat process.
    public struct Configuration: Sendable {
        public var entries: [BeatEntry]
        public var timeZone: TimeZone
        public var keys: BeatKeys
        public var lockTTLMilliseconds: Int64
        public var catchUp: BeatCatchUp

        public init(
            entries: [BeatEntry], timeZone: TimeZone = .utc, keys: BeatKeys = BeatKeys(prefix: "oauthq"),
            lockTTLMilliseconds: Int64 = 5000, catchUp: BeatCatchUp = .once
        ) {
            self.entries = entries
            self.timeZone = timeZone
            self.keys = keys
            self.lockTTLMilliseconds = lockTTLMilliseconds
            self.catchUp = catchUp
        }

        /// How often the lock is tried or renewed: a fifth of the TTL, at most 1 s.
        var lockInterval: Double { min(1.0, Double(lockTTLMilliseconds) / 5000) }
    }

    public let configuration: Configuration
    public let redis: RedisConfiguration
    /// Receives one line per event (leadership, sends, errors).
    let log: @Sendable (String) -> Void
    /// This process's lock token.
    public let token: String

    public init(configuration: Configuration, redis: RedisConfiguration, log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.redis = redis
        self.log = log
        self.token = CeleryMessage.newID()
    }

    /// Runs until the task is cancelled, then gives up the lock (if held) so a standby takes over at once.
    /// - Throws: a permanent ``RedisError`` on the first connect (a wrong password, a bad database number), as the
    ///   worker does: retrying cannot fix it. Later errors, and transient ones at start, are retried every second.
    public func run() async throws {
        let lock = BeatLock(key: configuration.keys.lock, token: token, ttlMilliseconds: configuration.lockTTLMilliseconds)
        let sender = BeatTickSender(keys: configuration.keys)
        let entries = configuration.entries
        let ttl = Double(configuration.lockTTLMilliseconds) / 1000
        var connection: RedisConnection?
        do {
            connection = try await RedisConnection.connect(redis)
        } catch let error as RedisError where !error.isTransient {
            throw error
        } catch {
            // Unreachable for now: the loop below logs it and retries.
        }
        var isLeader = false
        var leaseUntil = 0.0
        var nextLockAction = 0.0
        var nextFire: [Int64?] = Array(repeating: nil, count: entries.count)
        var lastError: String?
        log("beat: standby (token \(token.prefix(8))), trying the lock \(configuration.keys.lock) every \(configuration.lockInterval) s")
        if connection != nil { log("beat: connected to Redis") }

        while !Task.isCancelled {
            do {
                if connection == nil {
                    connection = try await RedisConnection.connect(redis)
                    log(lastError != nil ? "beat: reconnected to Redis" : "beat: connected to Redis")
                    lastError = nil
                }
                guard let redisConnection = connection else { continue }
                var now = Date().timeIntervalSince1970
                if now >= nextLockAction {
                    let attempt = now
                    if isLeader {
                        if try await lock.renew(on: redisConnection) {
                            leaseUntil = attempt + ttl
                        } else {
                            isLeader = false
                            log("beat: lost the lock (another beat holds it or it expired); standing by")
                        }
                    } else if try await lock.acquire(on: redisConnection) {
                        isLeader = true
                        leaseUntil = attempt + ttl
                        nextFire = try await startingTicks(entries: entries, sender: sender, on: redisConnection)
                        log("beat: leader; " + describeNext(entries: entries, nextFire: nextFire))
                    }
                    nextLockAction = attempt + configuration.lockInterval
                }
                now = Date().timeIntervalSince1970
                if isLeader && now >= leaseUntil {
                    isLeader = false
                    log("beat: lease not renewed in time; standing by")
                }
                if isLeader {
                    let second = Int64(now.rounded(.down))
                    entryLoop: for index in entries.indices {
                        while let tick = nextFire[index], tick <= second {
                            let (outcome, message) = try await sender.send(
                                entries[index], scheduled: tick, lockToken: token, on: redisConnection)
                            switch outcome {
                            case .sent:
                                log("beat: sent \(entries[index].task) for \"\(entries[index].name)\" at \(CivilTime.iso(tick)) id \(message.id) queue \(entries[index].queue)")
                            case .alreadySent:
                                log("beat: tick \(CivilTime.iso(tick)) of \"\(entries[index].name)\" was already sent; skipped")
                            case .notLeader:
                                isLeader = false
                                log("beat: the lock is no longer ours; nothing sent; standing by")
                                break entryLoop
                            }
                            nextFire[index] = entries[index].schedule.next(after: tick, timeZone: configuration.timeZone)
                        }
                    }
                }
                // Sleep until the next lock action or the next tick, whichever is first.
                var wake = nextLockAction
                if isLeader {
                    for case let tick? in nextFire { wake = min(wake, Double(tick)) }
                }
                let delay = min(max(wake - Date().timeIntervalSince1970, 0.005), configuration.lockInterval)
                try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            } catch is CancellationError {
                break
            } catch {
                let text = String(describing: error)
                if text != lastError { log("beat: Redis error: \(text); retrying every second") }
                lastError = text
                if let dead = connection, await !dead.isAlive { connection = nil }
                do { try await Task.sleep(for: .seconds(1)) } catch { break }
            }
        }
        if isLeader, let connection {
            try? await lock.release(on: connection)
            log("beat: released the lock")
        }
        await connection?.close()
    }

    /// The first tick to send for each entry on becoming leader, from the stored last ticks and the catch-up rule.
    func startingTicks(entries: [BeatEntry], sender: BeatTickSender, on connection: RedisConnection) async throws -> [Int64?] {
        let now = Int64(Date().timeIntervalSince1970.rounded(.down))
        var ticks: [Int64?] = []
        for entry in entries {
            let last = try await sender.lastSent(entry, on: connection)
            let schedule = entry.schedule
            if let last {
                if configuration.catchUp == .once,
                    let missed = schedule.latest(after: last, upTo: now, timeZone: configuration.timeZone)
                {
                    log("beat: \"\(entry.name)\" missed its tick at \(CivilTime.iso(missed)); sending it once now")
                    ticks.append(missed)
                } else {
                    ticks.append(schedule.next(after: max(last, now), timeZone: configuration.timeZone))
                }
            } else {
                ticks.append(schedule.next(after: now, timeZone: configuration.timeZone))
            }
        }
        return ticks
    }

    private func describeNext(entries: [BeatEntry], nextFire: [Int64?]) -> String {
        zip(entries, nextFire).map { entry, tick in
            "\"\(entry.name)\" next at \(tick.map(CivilTime.iso) ?? "never")"
        }.joined(separator: ", ")
    }
}
