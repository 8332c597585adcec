import ArgumentParser

/// The `oauthq` command: a Celery-compatible worker for Django OAuth Toolkit's maintenance jobs.
@main
struct OAuthQ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauthq",
        abstract: "A Celery-compatible job-queue worker for Django OAuth Toolkit maintenance jobs.",
        subcommands: [MigrateCommand.self, ClearTokensCommand.self, CreateApplicationCommand.self, WorkerCommand.self]
    )
}
