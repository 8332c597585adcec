import ArgumentParser
import Foundation
import CeleryProtocol
import OAuthMaintenance

/// `oauthq enqueue <task>`: send a task to the queue as a Celery 5.7 client would.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Send a task to the Redis queue as Celery's send_task does (protocol v2).",
        discussion: """
            Every argument is checked before anything is written (exit status 2 and nothing sent on a bad \
            value). Prints the task id. With --wait, prints the result instead; exit status 0 SUCCESS, \
            3 FAILURE, 4 REVOKED, 5 not ready when --timeout ran out, 1 Redis error, 2 invalid argument.
            """,
        subcommands: [
            EnqueueClearTokensCommand.self, EnqueueClearCIMDApplicationsCommand.self, EnqueueCreateApplicationCommand.self,
            EnqueuePingCommand.self,
        ]
    )

    /// The task names the worker registers.
    enum TaskName {
        static let clearTokens = "cleartokens"
        static let clearCIMDApplications = "clearcimdapplications"
        static let createApplication = "createapplication"
        static let ping = "ping"
    }
}

/// `oauthq enqueue cleartokens [NAME=VALUE…]`.
struct EnqueueClearTokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleartokens",
        abstract: "Enqueue cleartokens; settings go as kwargs with DOT's names.",
        discussion: """
            Settings are NAME=VALUE with DOT's names (REFRESH_TOKEN_EXPIRE_SECONDS, \
            REFRESH_TOKEN_GRACE_PERIOD_SECONDS, REFRESH_TOKEN_REUSE_PROTECTION, \
            CLEAR_EXPIRED_TOKENS_BATCH_SIZE, CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL), or the flags below. \
            Values are checked as DOT checks them and sent as JSON numbers or booleans. Settings not \
            given are not sent: the worker's own configuration applies.
            """
    )

    @OptionGroup var options: EnqueueOptions

    @Argument(help: "Settings as NAME=VALUE with DOT's names.")
    var settings: [String] = []

    @Option(name: .customLong("refresh-token-expire-seconds"), help: "REFRESH_TOKEN_EXPIRE_SECONDS.")
    var expireSeconds: String?

    @Option(name: .customLong("refresh-token-grace-period-seconds"), help: "REFRESH_TOKEN_GRACE_PERIOD_SECONDS.")
    var gracePeriodSeconds: String?

    @Option(name: .customLong("refresh-token-reuse-protection"), help: "REFRESH_TOKEN_REUSE_PROTECTION: true or false.")
    var reuseProtection: String?

    @Option(name: .customLong("batch-size"), help: "CLEAR_EXPIRED_TOKENS_BATCH_SIZE.")
    var batchSize: String?

    @Option(name: .customLong("batch-interval"), help: "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL in seconds.")
    var batchInterval: String?

    /// The settings given, in DOT's key order, checked with DOT's rules.
    func kwargs() throws -> JSONObject {
        var given: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else {
                throw CommandFailure(exitCode: 2, "setting \"\(setting)\": expected NAME=VALUE")
            }
            let name = String(setting[..<equals])
            guard ClearTokensSettings.Key(rawValue: name) != nil else {
                let known = ClearTokensSettings.Key.allCases.map(\.rawValue).joined(separator: ", ")
                throw CommandFailure(exitCode: 2, "unknown setting \"\(name)\" (known: \(known))")
            }
            given[name] = String(setting[setting.index(after: equals)...])
        }
        let flags: [(ClearTokensSettings.Key, String?)] = [
            (.refreshTokenExpireSeconds, expireSeconds), (.refreshTokenGracePeriodSeconds, gracePeriodSeconds),
            (.refreshTokenReuseProtection, reuseProtection), (.batchSize, batchSize), (.batchInterval, batchInterval),
        ]
        for (key, value) in flags { if let value { given[key.rawValue] = value } }
        do {
            _ = try ClearTokensSettings(values: given)
        } catch {
            throw CommandFailure(exitCode: 2, error.description)
        }
        var kwargs = JSONObject()
        for key in ClearTokensSettings.Key.allCases {
            guard let raw = given[key.rawValue]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { continue }
            kwargs[key.rawValue] = Self.jsonValue(raw, boolean: key == .refreshTokenReuseProtection)
        }
        return kwargs
    }

    static func jsonValue(_ raw: String, boolean: Bool) -> JSONValue {
        if boolean { return .bool(["1", "true", "yes", "on"].contains(raw.lowercased())) }
        if let int = Int64(raw) { return .int(int) }
        if let double = Double(raw), double.isFinite { return double.rounded() == double && abs(double) < 1e15 ? .int(Int64(double)) : .double(double) }
        return .string(raw)
    }

    func run() async throws {
        try await reportingFailures {
            let kwargs = try kwargs()
            try await options.send(defaultTaskName: EnqueueCommand.TaskName.clearTokens, args: [], kwargs: kwargs)
        }
    }
}

/// `oauthq enqueue createapplication CLIENT_TYPE GRANT_TYPE [DOT's options]`.
struct EnqueueCreateApplicationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "createapplication",
        abstract: "Enqueue createapplication with DOT's arguments.",
        discussion: """
            Sent as args=[client_type, grant_type] and kwargs with DOT's names for the options given \
            (client_id, user, redirect_uris, post_logout_redirect_uris, client_secret, \
            hash_client_secret=false, name, skip_authorization=true, algorithm). The client type, grant \
            type, algorithm and user id are checked here; redirect URIs, the RSA key and client-id \
            uniqueness depend on the worker's settings and database and are checked there, as DOT does. \
            Note that a --client-secret travels in the message (and its kwargsrepr header) in clear text.
            """
    )

    @OptionGroup var options: EnqueueOptions

    @Argument(help: "confidential or public.")
    var clientType: String

    @Argument(help: "authorization-code, urn:ietf:params:oauth:grant-type:device_code, implicit, password, client-credentials or openid-hybrid.")
    var grantType: String

    @Option(name: .customLong("client-id"), help: "The client id (default: generated by the worker).")
    var clientID: String?

    @Option(help: "The owner's auth_user id.")
    var user: String?

    @Option(name: .customLong("redirect-uris"), help: "Space-separated redirect URIs.")
    var redirectURIs: String?

    @Option(name: .customLong("post-logout-redirect-uris"), help: "Space-separated post-logout redirect URIs.")
    var postLogoutRedirectURIs: String?

    @Option(name: .customLong("client-secret"), help: "The client secret (default: generated by the worker).")
    var clientSecret: String?

    @Flag(name: .customLong("no-hash-client-secret"), help: "Store the client secret unhashed.")
    var noHashClientSecret = false

    @Option(help: "The application name.")
    var name: String?

    @Flag(name: .customLong("skip-authorization"), help: "Skip the authorization consent screen.")
    var skipAuthorization = false

    @Option(help: "OIDC signing algorithm: RS256 or HS256.")
    var algorithm: String?

    func kwargs() throws -> JSONObject {
        typealias Validator = CreateApplicationValidator
        func choice(_ value: String, _ what: String, _ choices: [String]) throws {
            guard choices.contains(value) else {
                let list = choices.filter { !$0.isEmpty }.joined(separator: ", ")
                throw CommandFailure(exitCode: 2, "\(what) \"\(value)\" is not a valid choice (expected one of: \(list))")
            }
        }
        try choice(clientType, "client type", Validator.clientTypes)
        try choice(grantType, "grant type", Validator.grantTypes)
        if let algorithm { try choice(algorithm, "--algorithm", Validator.algorithms) }
        if let user, !user.isEmpty, Int32(user.trimmingCharacters(in: .whitespaces)) == nil {
            throw CommandFailure(exitCode: 2, "--user \"\(user)\": expected the auth_user id (an integer)")
        }
        var kwargs = JSONObject()
        // DOT ignores empty strings ("not given"), so they are not sent.
        let strings: [(String, String?)] = [
            ("client_id", clientID), ("user", user), ("redirect_uris", redirectURIs),
            ("post_logout_redirect_uris", postLogoutRedirectURIs), ("client_secret", clientSecret),
        ]
        for (key, value) in strings { if let value, !value.isEmpty { kwargs[key] = .string(value) } }
        if noHashClientSecret { kwargs["hash_client_secret"] = false }
        if let name, !name.isEmpty { kwargs["name"] = .string(name) }
        if skipAuthorization { kwargs["skip_authorization"] = true }
        if let algorithm, !algorithm.isEmpty { kwargs["algorithm"] = .string(algorithm) }
        return kwargs
    }

    func run() async throws {
        try await reportingFailures {
            let kwargs = try kwargs()
            try await options.send(
                defaultTaskName: EnqueueCommand.TaskName.createApplication,
                args: [.string(clientType), .string(grantType)], kwargs: kwargs)
        }
    }
}

/// `oauthq enqueue ping`: a no-op task, to check that a worker is consuming the queue.
struct EnqueuePingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Enqueue ping (no arguments): check that a worker consumes the queue, e.g. with --wait."
    )

    @OptionGroup var options: EnqueueOptions

    func run() async throws {
        try await reportingFailures {
            try await options.send(defaultTaskName: EnqueueCommand.TaskName.ping, args: [], kwargs: [:])
        }
    }
}
