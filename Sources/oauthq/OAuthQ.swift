import ArgumentParser
import Redis
import Foundation

/// The `oauthq` command: a Celery-compatible worker for Django OAuth Toolkit's maintenance jobs.
@main
struct OAuthQ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauthq",
        abstract: "A Celery-compatible job-queue worker for Django OAuth Toolkit maintenance jobs.",
        subcommands: [
            MigrateCommand.self, ClearTokensCommand.self, ClearCIMDApplicationsCommand.self, CreateApplicationCommand.self,
            WorkerCommand.self, EnqueueCommand.self, ResultCommand.self, StatusCommand.self, DeadLettersCommand.self,
            BeatCommand.self, RevokeCommand.self, QueuesCommand.self,
        ]
    )

    /// Runs the command; usage errors (missing or unknown arguments, invalid values) exit with
    /// status 2, as Python's argparse — and so DOT's management commands — do, instead of
    /// swift-argument-parser's 64.
    static func main() async {
        // Before any connection: OpenSSL without its exit handler (see RedisTLSLibrary).
        RedisTLSLibrary.initialize()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
