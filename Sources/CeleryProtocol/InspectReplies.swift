import Foundation

/// The replies a Celery 5.7 worker sends to remote-control requests (`celery inspect …`, `celery control …`,
/// Flower's worker page), built as pure values. Each shape is checked against a real worker's captured replies
/// in `Tests/CeleryProtocolTests/captures/celery-5.7-inspect.json`: same keys, types and nesting; values differ.
public enum InspectReplies {
    /// `{"ok": text}`: Celery's `ok()`.
    public static func ok(_ text: String) -> JSONValue {
        ["ok": .string(text)]
    }

    /// `{"error": text}`: Celery's `nok()`.
    public static func error(_ text: String) -> JSONValue {
        ["error": .string(text)]
    }

    /// What Celery answers to a method it has no handler for: kombu's pidbox catches the `KeyError` and replies
    /// `{"error": "KeyError('<method>')"}`.
    public static func unknownCommand(_ method: String) -> JSONValue {
        error("KeyError(\(JSONValue.string(method).pythonRepr))")
    }

    /// `revoke`: `tasks {'id', …} flagged as revoked` (Python's set repr, in the order given).
    public static func revoked(_ ids: [String]) -> JSONValue {
        ok("tasks {" + ids.map { JSONValue.string($0).pythonRepr }.joined(separator: ", ") + "} flagged as revoked")
    }

    /// `revoke(terminate=True)`: `terminate: id, …`, or `terminate: tasks unknown` when none runs here.
    public static func terminated(_ ids: [String]) -> JSONValue {
        ids.isEmpty ? ok("terminate: tasks unknown") : ok("terminate: " + ids.joined(separator: ", "))
    }

    /// `active_queues`: one queue declaration as kombu's `Queue.as_dict(recurse=True)` (a direct exchange named
    /// like the queue, durable, routing key = queue name).
    public static func activeQueue(_ name: String) -> JSONValue {
        [
            "name": .string(name),
            "exchange": [
                "name": .string(name), "type": "direct", "arguments": nil, "durable": true, "passive": false, "auto_delete": false,
                "delivery_mode": nil, "no_declare": false,
            ],
            "routing_key": .string(name), "queue_arguments": nil, "binding_arguments": nil, "consumer_arguments": nil,
            "durable": true, "exclusive": false, "auto_delete": false, "no_ack": false, "alias": nil, "bindings": [],
            "no_declare": nil, "expires": nil, "message_ttl": nil, "max_length": nil, "max_length_bytes": nil,
            "max_priority": nil,
        ]
    }

    /// `scheduled`: `{eta, priority, request}` per task waiting for its ETA.
    public static func scheduledEntry(_ task: InspectTask, hostname: String) -> JSONValue {
        [
            "eta": task.eta.map { .string(CeleryTimestamp.format($0)) } ?? .null,
            "priority": .int(Int64(task.priority)),
            "request": task.info(hostname: hostname),
        ]
    }

    /// `query_task`: `{id: [state, info]}` with state `active`, `reserved` or `scheduled`; ids not held here are
    /// left out, as Celery does.
    public static func queryTask(_ found: [(state: String, task: InspectTask)], hostname: String) -> JSONValue {
        var object = JSONObject()
        for (state, task) in found {
            object[task.id] = [.string(state), task.info(hostname: hostname)]
        }
        return .object(object)
    }

    /// What `stats` reports (the fields Flower's worker page reads).
    public struct Stats: Sendable {
        public var pid: Int32
        public var clock: Int64
        public var uptime: Int
        public var concurrency: Int
        public var prefetchCount: Int
        /// Finished tasks by name.
        public var totals: [String: Int]
        public var brokerHost: String
        public var brokerPort: Int
        public var brokerDatabase: Int
        /// `getrusage(RUSAGE_SELF)` fields, seconds for `utime`/`stime`, kilobytes for `maxrss`.
        public var rusage: [(String, JSONValue)]

        public init(
            pid: Int32, clock: Int64, uptime: Int, concurrency: Int, prefetchCount: Int, totals: [String: Int], brokerHost: String,
            brokerPort: Int, brokerDatabase: Int, rusage: [(String, JSONValue)]
        ) {
            self.pid = pid
            self.clock = clock
            self.uptime = uptime
            self.concurrency = concurrency
            self.prefetchCount = prefetchCount
            self.totals = totals
            self.brokerHost = brokerHost
            self.brokerPort = brokerPort
            self.brokerDatabase = brokerDatabase
            self.rusage = rusage
        }
    }

    /// `stats`, shaped as Celery 5.7's: `broker`, `clock` (a string), `pid`, `pool` (oauthq's slots run in one
    /// process: `processes` lists that pid once per slot, as the prefork pool lists its children), `prefetch_count`,
    /// `rusage`, `total`, `uptime`.
    public static func stats(_ stats: Stats) -> JSONValue {
        let totals = JSONObject(stats.totals.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int(Int64($0.value))) })
        return [
            "broker": [
                "hostname": .string(stats.brokerHost), "userid": nil, "virtual_host": .string(String(stats.brokerDatabase)),
                "port": .int(Int64(stats.brokerPort)), "insist": false, "ssl": false, "transport": "redis", "connect_timeout": 4,
                "transport_options": [:], "login_method": nil, "uri_prefix": nil, "heartbeat": 120.0, "failover_strategy": "round-robin",
                "alternates": [], "credential_provider": nil,
            ],
            "clock": .string(String(stats.clock)),
            "uptime": .int(Int64(stats.uptime)),
            "pid": .int(Int64(stats.pid)),
            "pool": [
                "implementation": "oauthq:slots", "max-concurrency": .int(Int64(stats.concurrency)),
                "processes": .array(Array(repeating: .int(Int64(stats.pid)), count: max(0, stats.concurrency))),
                "max-tasks-per-child": "N/A", "put-guarded-by-semaphore": false, "timeouts": [0, 0],
                "writes": [
                    "total": 0, "avg": "0.00", "all": "", "raw": "", "strategy": "fair",
                    "inqueues": ["total": .int(Int64(stats.concurrency)), "active": 0],
                ],
            ],
            "prefetch_count": .int(Int64(stats.prefetchCount)),
            "rusage": .object(JSONObject(stats.rusage)),
            "total": .object(totals),
        ]
    }

    /// `report`: `{"ok": text}` with the software and settings lines Celery's `bugreport` prints.
    public static func report(softwareVersion: String, system: String, broker: String, queues: [String]) -> JSONValue {
        ok(
            "\nsoftware -> oauthq:\(softwareVersion) (Celery protocol 2 worker in Swift)\nplatform -> system:\(system)\n"
                + "settings -> transport:redis results:redis\n\nbroker_url: \(JSONValue.string(broker).pythonRepr)\n"
                + "task_queues: \(JSONValue.array(queues.map(JSONValue.string)).pythonRepr)\n"
        )
    }
}
