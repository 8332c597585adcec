/// kombu's Redis list names for a queue and its priority steps (docs/architecture.md#queue-lists-and-priority-steps).
public enum CeleryQueue {
    /// Celery's default queue, `celery`.
    public static let defaultQueue = "celery"

    /// kombu's default `sep` between a queue name and its priority step: bytes 0x06 0x16.
    public static let separator = "\u{06}\u{16}"

    /// kombu's `PRIORITY_STEPS`.
    public static let prioritySteps = [0, 3, 6, 9]

    /// The priority step a priority lands in: clamped to 0…9, then the largest step ≤ it (`bisect`).
    public static func step(forPriority priority: Int) -> Int {
        let clamped = min(max(priority, 0), 9)
        return prioritySteps.last { $0 <= clamped } ?? 0
    }

    /// The Redis list for `queue` at `priority`: the bare name for 0–2, `queue\x06\x163` for 3–5, `…6` for 6–8 and
    /// `…9` for 9. Out-of-range priorities are clamped.
    public static func listKey(queue: String, priority: Int) -> String {
        let step = step(forPriority: priority)
        return step == 0 ? queue : queue + separator + String(step)
    }

    /// The keys of one kombu `BRPOP`: every queue at step 0, then every queue at step 3, and so on (so on Redis,
    /// priority 0 is served first). The queue order is rotated left by `rotation` (modulo the count) so that
    /// consumers can serve queues round-robin: pass a counter that grows by one after each delivery, or use
    /// ``rotated(_:lastUsed:)`` for kombu's exact rule.
    public static func fetchOrder(queues: [String], rotation: Int = 0) -> [String] {
        guard !queues.isEmpty else { return [] }
        let shift = ((rotation % queues.count) + queues.count) % queues.count
        let ordered = Array(queues[shift...] + queues[..<shift])
        return prioritySteps.flatMap { step in
            ordered.map { step == 0 ? $0 : $0 + separator + String(step) }
        }
    }

    /// kombu's `round_robin_cycle.rotate`: the queue that just delivered moves to the end. Unknown names leave the
    /// order unchanged.
    public static func rotated(_ queues: [String], lastUsed: String) -> [String] {
        guard let index = queues.firstIndex(of: lastUsed) else { return queues }
        var result = queues
        result.append(result.remove(at: index))
        return result
    }

    /// The queue name of a list key (`oauth\x06\x166` → `oauth`).
    public static func queueName(ofListKey key: String) -> String {
        for step in prioritySteps where step != 0 {
            let suffix = separator + String(step)
            if key.utf8.count > suffix.utf8.count, key.utf8.suffix(suffix.utf8.count).elementsEqual(suffix.utf8) {
                return String(decoding: key.utf8.dropLast(suffix.utf8.count), as: UTF8.self)
            }
        }
        return key
    }

    /// The one rule for where a message goes back to (warm shutdown, retry, ETA, reaper, restore): the list it
    /// was fetched from when that is known; otherwise (a reaper returning another worker's message) the list
    /// its routing names — `delivery_info.routing_key` for the anonymous exchange, at its priority — falling back
    /// to ``defaultQueue``.
    public static func returnListKey(for message: CeleryMessage, fetchedFrom listKey: String?) -> String {
        if let listKey, !listKey.isEmpty { return listKey }
        return Self.listKey(queue: message.queue(default: defaultQueue), priority: message.priority)
    }
}
