import Foundation
import TestSupport
import Testing

@testable import CeleryProtocol

/// Feeds `CeleryMessage.make` output, serialized values and result records to kombu/celery 5.7 themselves
/// (python/crosscheck.py): kombu's virtual-transport `Message.decode`, celery's worker `Request`, `json.dumps`,
/// `repr`, `saferepr` and the result backend's `exception_to_python`.
///
/// Python is `<repo root>/.venv/bin/python` (from requirements-dev.txt), or `OAUTHQ_PYTHON` if set. Without it the
/// test is skipped, except when `CI` is set: then it fails.
@Suite struct PythonCrossCheckTests {
    static let repositoryRoot = RepositoryPaths.root

    static let python: URL? = {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["OAUTHQ_PYTHON"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let venv = RepositoryPaths.venvPython
        return FileManager.default.isExecutableFile(atPath: venv.path) ? venv : nil
    }()

    /// The headers Celery's `as_task_v2` writes (docs/architecture.md#the-message-envelope).
    static let standardHeaders: Set<String> = [
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries", "timelimit", "root_id",
        "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    ]

    @Test(.enabled(if: python != nil || TestEnvironment.isCI, "no .venv/bin/python (set OAUTHQ_PYTHON or create the venv)"))
    func kombuAndCeleryAcceptOurWire() throws {
        guard let python = Self.python else {
            Issue.record("CI is set but \(Self.repositoryRoot.path)/.venv/bin/python is missing")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobqueue-crosscheck-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        try write(try messages(), to: directory.appendingPathComponent("messages.json"))
        try write(values(), to: directory.appendingPathComponent("values.json"))
        try write(results(), to: directory.appendingPathComponent("results.json"))

        let script = Self.repositoryRoot.appendingPathComponent("Tests/CeleryProtocolTests/python/crosscheck.py")
        let process = Process()
        process.executableURL = python
        process.arguments = [script.path, directory.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "crosscheck.py:\n\(text)")
        #expect(text.hasPrefix("OK "), "crosscheck.py:\n\(text)")
    }

    private func write(_ value: JSONValue, to url: URL) throws {
        try Data(value.serialized()).write(to: url)
    }

    private func messages() throws -> JSONValue {
        let now = Date()
        let eta = CeleryTimestamp.parse("2030-01-02T03:04:05.250000+00:00")!
        var samples: [CeleryMessage] = [
            .make(taskName: "oauth2_provider.cleartokens", args: [1, "two"], kwargs: ["dry_run": true]),
            .make(taskName: "oauth2_provider.cleartokens"),
            .make(
                taskName: "oauth2_provider.cleartokens", args: ["é😀 it's \"q\"\n", 1.5, 1e100, nil, [["x": [1]]]],
                kwargs: ["z": "last?", "a": ["nested": [true, false]], "é": -0.0], queue: "oauth", priority: 5,
                eta: eta, expires: now.addingTimeInterval(120), timeLimit: .init(hard: 60, soft: 30), retries: 2,
                extraHeaders: ["celery_beat_task": true]
            ),
            .make(taskName: "oauth2_provider.cleartokens", args: [.string(String(repeating: "long ", count: 400))], priority: 9),
        ]
        // Celery's retry republish and kombu's restore of our own messages.
        samples.append(try CeleryMessage.decode(samples[2].retried(eta: now.addingTimeInterval(30), retries: 3)).get())
        samples.append(try CeleryMessage.decode(samples[0].redelivered()).get())
        return .array(
            samples.map { m in
                [
                    "raw": .string(String(decoding: m.raw, as: UTF8.self)),
                    "expect": [
                        "id": .string(m.id), "task": .string(m.taskName), "args": .array(m.args), "kwargs": .object(m.kwargs),
                        "queue": .string(m.routingKey ?? ""), "delivery_tag": .string(m.deliveryTag ?? ""),
                        "priority": .int(Int64(m.priority)),
                        "timelimit": [m.timeLimit.hard.map(JSONValue.double) ?? nil, m.timeLimit.soft.map(JSONValue.double) ?? nil],
                        "eta": m.eta.map { .string(CeleryTimestamp.format($0)) } ?? nil,
                        "expires": m.expires.map { .string(CeleryTimestamp.format($0)) } ?? nil,
                        "expiration": m.properties["expiration"] ?? nil,
                        "extra_headers": .object(JSONObject(m.headers.filter { !Self.standardHeaders.contains($0.key) }.map { ($0.key, $0.value) })),
                    ],
                ]
            }
        )
    }

    private func values() -> JSONValue {
        var rng = SplitMix(seed: 2026)
        var list: [JSONValue] = pythonVectors.compactMap { try? JSONValue.parse($0.json).get() }
        for _ in 0..<200 { list.append(randomValue(depth: 0, using: &rng)) }
        return .array(
            list.map { v in
                [
                    "json": .string(v.jsonString), "dumps": .string(v.jsonString), "repr": .string(v.pythonRepr),
                    "saferepr": .string(v.celerySafeRepr()),
                ]
            }
        )
    }

    private func results() -> JSONValue {
        let id = CeleryMessage.newID()
        let records: [CeleryResult] = [
            .started(taskID: id, pid: 1, hostname: "oauthq@vm"),
            .success(taskID: id, result: ["deleted": 3]),
            .failure(taskID: id, exception: CeleryResult.failure(type: "ValueError", messages: ["bad grant"]), traceback: "tb"),
            .failure(taskID: id, exception: CeleryResult.failure(type: "TokenError", module: "oauthq.errors", messages: ["expired"])),
            .revokedExpired(taskID: id),
        ]
        return .array(records.map { .string(String(decoding: $0.encoded(), as: UTF8.self)) })
    }

    private func randomValue(depth: Int, using rng: inout SplitMix) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .int(Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &rng))
        case 3:
            let d = Double(bitPattern: UInt64.random(in: 0 ... .max, using: &rng))
            return .double(d.isFinite ? d : 0.25)
        case 4:
            // Stay within long-assigned Unicode so Python 3.11's and Swift's tables agree on printability.
            let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0x0...0x1F, 0x7F...0x2FF, 0x370...0x3FF, 0x2000...0x206F, 0x4E00...0x4E50, 0x1F600...0x1F64F, 0xE000...0xE010]
            let scalars = (0..<Int.random(in: 0..<10, using: &rng)).compactMap { _ -> Unicode.Scalar? in
                let pool = pools[Int.random(in: 0..<pools.count, using: &rng)]
                return Unicode.Scalar(UInt32.random(in: pool, using: &rng))
            }
            return .string(String(String.UnicodeScalarView(scalars)))
        case 5: return .array((0..<Int.random(in: 0..<5, using: &rng)).map { _ in randomValue(depth: depth + 1, using: &rng) })
        default:
            var o = JSONObject()
            for _ in 0..<Int.random(in: 0..<5, using: &rng) {
                if case .string(let key) = randomValue(depth: 99, using: &rng) { o[key] = randomValue(depth: depth + 1, using: &rng) }
            }
            return .object(o)
        }
    }
}
