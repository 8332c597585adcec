import ArgumentParser
import Foundation
import OAuthMaintenance
import Postgres

/// `oauthq createapplication`: DOT 3.4.1's `manage.py createapplication`, same arguments and output.
struct CreateApplicationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "createapplication",
        abstract: "Create an OAuth2 application exactly as DOT 3.4.1's createapplication does.",
        discussion: """
            Validation and output are DOT's: the success lines (with the generated client secret, shown \
            only this once) or the "Please correct the following errors:" block, both on stdout. An empty \
            option value means "not given". Settings come from the environment with DOT's names \
            (ALLOWED_REDIRECT_URI_SCHEMES, ALLOW_URI_WILDCARDS, OIDC_RSA_PRIVATE_KEY, \
            CLIENT_SECRET_GENERATOR_LENGTH) plus OAUTHQ_PBKDF2_ITERATIONS. Exit status: 0 created, \
            1 validation errors (DOT exits 0), configuration or database error, 2 usage error.
            """
    )

    @Argument(help: "The client type: confidential or public.")
    var clientType: String

    @Argument(help: "The grant type: authorization-code, implicit, password, client-credentials, openid-hybrid or urn:ietf:params:oauth:grant-type:device_code.")
    var authorizationGrantType: String

    @Option(name: .customLong("client-id"), help: "The client id (default: 40 random characters).")
    var clientID = ""

    @Option(help: "The owner's auth_user id.")
    var user = ""

    @Option(name: .customLong("redirect-uris"), help: "Space-separated redirect URIs.")
    var redirectURIs = ""

    @Option(name: .customLong("post-logout-redirect-uris"), help: "Space-separated post-logout redirect URIs (not validated).")
    var postLogoutRedirectURIs = ""

    @Option(name: .customLong("client-secret"), help: "The client secret (default: 128 random characters, printed once).")
    var clientSecret = ""

    @Flag(name: .customLong("no-hash-client-secret"), help: "Store the client secret in plaintext.")
    var noHashClientSecret = false

    @Option(help: "The application's name.")
    var name = ""

    @Flag(name: .customLong("skip-authorization"), help: "Skip the authorization page.")
    var skipAuthorization = false

    @Option(help: "The OIDC signing algorithm: RS256 or HS256.")
    var algorithm = ""

    @OptionGroup var connection: ConnectionOptions

    var request: CreateApplicationRequest {
        CreateApplicationRequest(
            clientType: clientType,
            authorizationGrantType: authorizationGrantType,
            clientID: clientID,
            user: user,
            redirectURIs: redirectURIs,
            postLogoutRedirectURIs: postLogoutRedirectURIs,
            clientSecret: clientSecret,
            hashClientSecret: !noHashClientSecret,
            name: name,
            skipAuthorization: skipAuthorization,
            algorithm: algorithm
        )
    }

    func run() async throws {
        try await reportingFailures {
            let settings: CreateApplicationSettings
            do {
                settings = try CreateApplicationSettings(environment: ProcessInfo.processInfo.environment)
            } catch let error as CreateApplicationSettings.ConfigurationError {
                throw CommandFailure(exitCode: 1, error.description)
            }
            let tables = try TableOptions.tables()
            let db = try await PostgresConnection.connect(PostgresConfiguration(url: connection.databaseURL()))
            // A newer DOT's NOT NULL column (or another blocking drift) would fail the INSERT: refuse, naming it.
            if let refusal = try await DOTSchema.drift(on: db, tables: tables).refusal(task: CreateApplicationJob.jobName) {
                throw CommandFailure(exitCode: 1, refusal)
            }
            let result = try await CreateApplicationJob(settings: settings).run(request, on: db, tables: tables)
            await db.close()
            // stdout, like DOT: the secret (when generated) appears here and nowhere else.
            for line in result.outputLines {
                print(line)
            }
            if case .invalid = result {
                throw ExitCode(1)
            }
        }
    }
}
