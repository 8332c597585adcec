import CeleryProtocol
import CeleryRedis
import OAuthMaintenance
import Postgres

extension WorkerTasks {
    /// kwargs: `batch_size` (DOT's `--batch-size`; an int, or a string Python's `int()` reads; `null`
    /// is the default 1000). A size below 1 fails with DOT's `CommandError`; another run holding the
    /// lock is a success saying so, and a redelivered copy finding it held comes back later, as for cleartokens.
    func clearCIMDApplications(_ invocation: JobInvocation) async throws -> JSONValue {
        let name = ClearCIMDApplicationsJob.jobName
        let arguments = try WorkerArguments(
            function: name, args: invocation.message.args, kwargs: invocation.message.kwargs,
            positional: [], allowed: ["batch_size"]
        )
        let size: Int
        switch arguments.values["batch_size"] {
        case nil, .null?: size = ClearCIMDApplicationsJob.defaultBatchSize
        case .int(let number)?: size = Int(clamping: number)
        case .string(let text)?:
            guard text.utf8.count <= 4300, let parsed = ClearCIMDApplicationsJob.parseBatchSize(text) else {
                throw JobError.failure(
                    type: "ValueError",
                    messages: [.string("invalid literal for int() with base 10: \(JSONValue.string(String(text.prefix(200))).pythonRepr)")]
                )
            }
            size = parsed
        case let value?:
            throw JobError.invalidArguments("\(name)() argument 'batch_size' must be int, not \(value.pythonTypeName)")
        }
        let job: ClearCIMDApplicationsJob
        do {
            job = try ClearCIMDApplicationsJob(batchSize: size, tables: tables)
        } catch {
            throw JobError.failure(type: "CommandError", module: "django.core.management.base", messages: [.string(error.description)])
        }
        let database = try self.database(for: invocation)
        do {
            let connection = try await database.connection()
            try await schema.admit(name)
            let summary = try await tracking(invocation) { report in try await job.run(on: connection, progress: report) }
            return try Self.json(summary)
        } catch let error as ClearCIMDApplicationsError where error.code == .alreadyRunning {
            return try Self.alreadyRunning(invocation)
        } catch let error as PostgresError {
            throw await database.classify(error)
        }
    }
}
