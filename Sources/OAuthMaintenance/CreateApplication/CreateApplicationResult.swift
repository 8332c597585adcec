/// What ``CreateApplicationJob`` produced: the new application, or DOT's validation errors (nothing
/// written).
///
/// As JSON (the worker's task result), a success is `{"id": 7, "client_id": "…", "name": "…",
/// "client_secret": "…"}` (`client_secret` only when it was generated) and a failure is
/// `{"errors": {"client_id": ["Application with this Client ID already exists."], …}}`, DOT's
/// `ValidationError.message_dict`. A JSON object has no order: DOT's field order survives only in
/// ``outputLines`` (Foundation's `JSONEncoder` on Linux does not keep insertion order).
public enum CreateApplicationResult: Sendable, Hashable {
    /// The row was committed.
    case created(CreatedApplication)
    /// `full_clean()` failed (or a concurrent writer won the race); nothing was written.
    case invalid(ApplicationValidationErrors)

    /// What `createapplication` prints on stdout: the success lines, or the error block.
    public var outputLines: [String] {
        switch self {
        case .created(let application): application.successLines
        case .invalid(let errors): errors.outputLines
        }
    }
}

/// A committed application, as the job reports it.
public struct CreatedApplication: Sendable, Hashable, Codable {
    /// `oauth2_provider_application.id`.
    public var id: Int64
    /// The client id (given or generated).
    public var clientID: String
    /// The name (`''` when none was given).
    public var name: String
    /// The plaintext secret, only when it was generated: its one and only appearance. Never log it.
    public var clientSecret: String?

    public init(id: Int64, clientID: String, name: String, clientSecret: String?) {
        self.id = id
        self.clientID = clientID
        self.name = name
        self.clientSecret = clientSecret
    }

    /// DOT's success lines: `New application <name or client_id> created successfully.`, then
    /// `client_secret: <plaintext>` when the secret was generated.
    public var successLines: [String] {
        var lines = ["New application \(name.isEmpty ? clientID : name) created successfully."]
        if let clientSecret {
            lines.append("client_secret: \(clientSecret)")
        }
        return lines
    }

    enum CodingKeys: String, CodingKey {
        case id
        case clientID = "client_id"
        case name
        case clientSecret = "client_secret"
    }
}

extension CreatedApplication: CustomStringConvertible {
    /// Never includes the secret.
    public var description: String {
        "CreatedApplication(id: \(id), clientID: \(clientID), name: \(name), "
            + "clientSecret: \(clientSecret == nil ? "nil" : "<redacted>"))"
    }
}

extension CreateApplicationResult: CustomStringConvertible {
    /// Never includes the secret.
    public var description: String {
        switch self {
        case .created(let application): "created(\(application))"
        case .invalid(let errors): "invalid(\(errors.fields.map(\.name)))"
        }
    }
}

// MARK: - Codable

extension CreateApplicationResult: Codable {
    private enum CodingKeys: String, CodingKey {
        case errors
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.errors) {
            self = .invalid(try container.decode(ApplicationValidationErrors.self, forKey: .errors))
        } else {
            self = .created(try CreatedApplication(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .created(let application):
            try application.encode(to: encoder)
        case .invalid(let errors):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(errors, forKey: .errors)
        }
    }
}

extension ApplicationValidationErrors: Codable {
    /// A field name used as a JSON key.
    private struct FieldKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// `{"field": ["message", …], …}`. JSON objects are unordered, so the decoded field order is that of
    /// `allKeys`, not necessarily DOT's.
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: FieldKey.self)
        for key in container.allKeys {
            for message in try container.decode([String].self, forKey: key) {
                append(message, to: key.stringValue)
            }
        }
    }

    /// Encodes each field's messages under its name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FieldKey.self)
        for field in fields {
            try container.encode(field.messages, forKey: FieldKey(stringValue: field.name))
        }
    }
}
