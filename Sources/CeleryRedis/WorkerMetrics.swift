public import CeleryProtocol
import Metrics
import Synchronization

/// The worker's metrics, through swift-metrics (whatever backend the process bootstrapped; none: no-ops).
///
/// | name | type | labels |
/// |---|---|---|
/// | `oauthq_tasks_total` | counter | `task`, `state` (SUCCESS, FAILURE, RETRY, REVOKED, DEAD-LETTERED, SCHEDULED, REQUEUED) |
/// | `oauthq_task_duration_seconds` | histogram (timer) | `task`: run time of tasks whose code ran |
/// | `oauthq_task_retries_total` | counter | `task` |
/// | `oauthq_dead_letters_total` | counter | `reason` (malformed, unregistered, invalid_arguments) |
/// | `oauthq_queue_depth` | gauge | `queue`: messages waiting, all priorities (sampled) |
/// | `oauthq_connection_errors_total` | counter | `service` (redis, postgresql) |
/// | `oauthq_tasks_active` | gauge | none: tasks running now |
///
/// Task names that are not registered (a poison message's) are counted as `unknown`, so a stream of bad
/// messages cannot create unbounded label values. Handles are made once per label set and cached.
public final class WorkerMetrics: Sendable {
    /// Label values for ``connectionError(_:)``.
    public enum Service: String, Sendable {
        case redis, postgresql
    }

    /// Why a message was dead-lettered (the `reason` label).
    /// Why a message was dead-lettered.
    public typealias DeadLetterReason = CeleryProtocol.DeadLetterReason

    private struct TaskState: Hashable {
        var task: String
        var state: String
    }

    private let knownTasks: Set<String>
    private let taskCounters = Mutex<[TaskState: Counter]>([:])
    private let timers = Mutex<[String: Metrics.Timer]>([:])
    private let retryCounters = Mutex<[String: Counter]>([:])
    private let deadLetterCounters = Mutex<[DeadLetterReason: Counter]>([:])
    private let droppedCounter = Counter(label: "oauthq_dead_letters_dropped_total")
    private let connectionErrorCounters = Mutex<[Service: Counter]>([:])
    private let depthGauges = Mutex<[String: Gauge]>([:])
    private let active: Meter

    /// - Parameter knownTasks: the registered task names (others are labelled `unknown`).
    public init(knownTasks: some Sequence<String>) {
        self.knownTasks = Set(knownTasks)
        active = Meter(label: "oauthq_tasks_active")
    }

    private func label(_ task: String) -> String {
        knownTasks.contains(task) ? task : "unknown"
    }

    private static func cached<Key: Hashable & Sendable>(_ key: Key, in cache: borrowing Mutex<[Key: Counter]>, make: @Sendable () -> Counter) -> Counter {
        cache.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = make()
            counters[key] = counter
            return counter
        }
    }

    /// Counts a task's outcome (`state`), its run time when its code ran, and a retry.
    public func taskFinished(_ task: String, state: String, runtime: Duration?) {
        let name = label(task)
        Self.cached(TaskState(task: name, state: state), in: taskCounters) {
            Counter(label: "oauthq_tasks_total", dimensions: [("task", name), ("state", state)])
        }.increment()
        if let runtime {
            let timer = timers.withLock { timers in
                if let timer = timers[name] { return timer }
                let timer = Metrics.Timer(label: "oauthq_task_duration_seconds", dimensions: [("task", name)])
                timers[name] = timer
                return timer
            }
            timer.record(duration: runtime)
        }
        if state == "RETRY" {
            Self.cached(name, in: retryCounters) {
                Counter(label: "oauthq_task_retries_total", dimensions: [("task", name)])
            }.increment()
        }
    }

    /// Counts a dead letter.
    public func deadLettered(_ reason: DeadLetterReason) {
        Self.cached(reason, in: deadLetterCounters) {
            Counter(label: "oauthq_dead_letters_total", dimensions: [("reason", reason.rawValue)])
        }.increment()
    }

    /// Counts dead letters dropped by the count or age limit.
    public func deadLettersDropped(_ count: Int) {
        guard count > 0 else { return }
        droppedCounter.increment(by: Int64(clamping: count))
    }

    /// Counts a failed connect or a connection lost.
    public func connectionError(_ service: Service) {
        Self.cached(service, in: connectionErrorCounters) {
            Counter(label: "oauthq_connection_errors_total", dimensions: [("service", service.rawValue)])
        }.increment()
    }

    /// Records a sampled queue depth.
    public func queueDepth(_ queue: String, _ depth: Int) {
        let gauge = depthGauges.withLock { gauges in
            if let gauge = gauges[queue] { return gauge }
            let gauge = Gauge(label: "oauthq_queue_depth", dimensions: [("queue", queue)])
            gauges[queue] = gauge
            return gauge
        }
        gauge.record(depth)
    }

    /// A task started (+1) or ended (-1) running.
    public func taskStarted() { active.increment() }
    public func taskEnded() { active.decrement() }
}
