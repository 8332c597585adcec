import Foundation
public import CeleryProtocol
public import Redis

extension RedisWorker {
    /// Worker settings.
    public struct Configuration: Sendable {
        /// The broker.
        public var broker: RedisConfiguration
        /// The result backend when it differs from the broker (another server or database); nil: the broker.
        public var backend: RedisConfiguration?
        /// The prefix of oauthq's keys.
        public var keyPrefix: String = "oauthq"
        /// The queues to consume, in order.
        public var queues: [String] = [CeleryQueue.defaultQueue]
        /// Slots: tasks run at once.
        public var concurrency: Int = 1
        /// The node name (`oauthq@host`), shown in the worker hash, dead letters and `STARTED`-like fields.
        public var name: String = "oauthq@" + (ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost")
        /// Seconds results are kept (Celery's `result_expires`); 0: forever.
        public var resultExpires: Int = 86_400
        /// How long a first shutdown request lets running tasks finish.
        public var shutdownTimeout: Duration = .seconds(30)
        /// Retries of transient failures.
        public var retryPolicy = RetryPolicy()
        /// Task name aliases: `alias → registered name`.
        public var aliases: [String: String] = [:]
        /// Worker-wide time limits, used when a message sets none (`headers.timelimit` wins).
        public var defaultTimeLimit = CeleryMessage.TimeLimit.none
        /// How many messages a slot takes from its queues at once (all into its processing list). Finished tasks
        /// are settled together with the next fetch; as soon as a task blocks, the unstarted rest is returned.
        public var fetchBatch: Int = 16
        /// How long an idle slot blocks in `BLMOVE` before polling every list again.
        public var blockTimeout: Duration = .milliseconds(100)
        /// The heartbeat key's TTL.
        public var heartbeatTTL: Duration = .seconds(5)
        /// How often the heartbeat is refreshed and dead workers are reaped.
        public var heartbeatInterval: Duration = .seconds(1)
        /// How often due delayed messages are promoted.
        public var promoteInterval: Duration = .milliseconds(200)
        /// Backoff between reconnect attempts.
        public var reconnectPolicy = RedisReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(5))
        /// Whether the worker shows itself to Celery's tools: worker events (online, heartbeat, offline) and
        /// answers to remote-control `ping` (see ``CeleryPresence``).
        public var celeryEvents = true
        /// Seconds between Celery `worker-heartbeat` events (Celery: 2).
        public var eventFrequency: Duration = .seconds(2)
        /// Whether task lines carry their fields as log metadata too (`task`, `task_id`, `state`, `duration_ms`,
        /// `note`), for structured (JSON) logs.
        public var taskLogMetadata = false
        /// `sw_ver` in the worker events.
        public var softwareVersion = "0.1.0"
        /// How often `oauthq_queue_depth` is sampled (`LLEN` of every priority list of every consumed queue, on the
        /// maintenance connection); nil: never (metrics off).
        public var queueDepthInterval: Duration?
        /// A notice the worker publishes in its hash with every heartbeat (shown by `oauthq status`); nil: none.
        public var notice: WorkerNotice?
        /// The bounds every number of a message is held to, and the message size cap.
        public var limits = MessageLimits()
        /// After how many worker deaths while holding it a message is dead-lettered as `WorkerLost` (a poison
        /// pill); 0: never.
        public var maximumWorkerLosses = 3
        /// The most dead letters kept (the oldest beyond it are dropped); 0: no count limit.
        public var deadLetterMaximumCount = 10_000
        /// The oldest dead letter kept; nil: no age limit.
        public var deadLetterMaximumAge: Duration? = .seconds(7 * 86_400)
        /// Shorter result lifetimes for some tasks' `SUCCESS` results, in seconds (e.g. a result that carries a
        /// generated client secret): `task name → seconds`; the shorter of this and ``resultExpires`` applies.
        public var successResultExpires: [String: Int] = [:]
        /// Whether task events are sent from the start (`-E`); `enable_events`/`disable_events` switch them later.
        public var taskEvents = false
        /// How long a revoke made through this worker lasts (Celery: until the worker stops).
        public var revokeTTL: Duration = RevokedSet.defaultTTL

        public init(broker: RedisConfiguration, backend: RedisConfiguration? = nil) {
            self.broker = broker
            self.backend = backend
        }
    }
}
