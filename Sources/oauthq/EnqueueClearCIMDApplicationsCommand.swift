import ArgumentParser
import Foundation
import CeleryProtocol
import OAuthMaintenance

/// `oauthq enqueue clearcimdapplications [--batch-size N]`.
struct EnqueueClearCIMDApplicationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clearcimdapplications",
        abstract: "Enqueue clearcimdapplications (DOT 3.4.1's command of that name).",
        discussion: """
            Sent as kwargs {"batch_size": N} when --batch-size is given (a whole number of at least 1, \
            checked here as DOT checks it); otherwise with no kwargs, and the worker uses DOT's default 1000.
            """
    )

    @OptionGroup var options: EnqueueOptions

    @Option(name: .customLong("batch-size"), help: "Applications per batch (DOT's --batch-size; default 1000).")
    var batchSize: String?

    /// `{"batch_size": N}`, or nothing when no batch size was given.
    func kwargs() throws -> JSONObject {
        var kwargs = JSONObject()
        guard let batchSize else { return kwargs }
        // Read as the command and the worker read it (Python's int(), saturating), so that what is sent runs.
        guard let value = ClearCIMDApplicationsJob.parseBatchSize(batchSize), value >= 1 else {
            throw CommandFailure(exitCode: 2, "--batch-size \"\(PrintableText.escaped(batchSize))\": expected a whole number of at least 1")
        }
        kwargs["batch_size"] = .int(Int64(value))
        return kwargs
    }

    func run() async throws {
        try await reportingFailures {
            let kwargs = try kwargs()
            try await options.send(defaultTaskName: EnqueueCommand.TaskName.clearCIMDApplications, args: [], kwargs: kwargs)
        }
    }
}
