import Crypto

extension DOTTables {
    /// The settings that name a swapped model, with Django's and DOT's names.
    public enum Key: String, CaseIterable, Sendable {
        case application = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        case accessToken = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        case refreshToken = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"
        case idToken = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
        case grant = "OAUTH2_PROVIDER_GRANT_MODEL"
        case user = "AUTH_USER_MODEL"
    }

    /// A setting that names no usable table.
    public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Table names from the settings (environment variables, task configuration). Each value is either
    /// Django's model label `app_label.ModelName`, whose table is Django's default
    /// (`app_label_modelname`, shortened with Django's hash suffix beyond PostgreSQL's 63 characters),
    /// or `db_table:NAME` for a model whose `Meta.db_table` names its table explicitly. An absent or
    /// empty setting keeps DOT's (or Django's) own model.
    public init(settings: [String: String]) throws(ConfigurationError) {
        self.init()
        for key in Key.allCases {
            guard let raw = settings[key.rawValue], !raw.isEmpty else { continue }
            let table = try Self.table(for: raw, setting: key.rawValue)
            switch key {
            case .application:
                application = table
                if !raw.hasPrefix("db_table:"), let model = raw.split(separator: ".").last {
                    applicationVerboseName = Self.verboseName(String(model))
                }
            case .accessToken: accessToken = table
            case .refreshToken: refreshToken = table
            case .idToken: idToken = table
            case .grant: grant = table
            case .user: user = table
            }
        }
        let tables = [application, accessToken, refreshToken, idToken, grant, user]
        if Set(tables).count < tables.count {
            throw ConfigurationError(description: "two models name the same table; each swapped model needs a table of its own")
        }
    }

    /// PostgreSQL's identifier limit (`NAMEDATALEN - 1`), which Django's backend reports as its maximum.
    static let maxNameLength = 63

    /// The table a setting value names. Input is capped before it is looked at.
    static func table(for raw: String, setting: String) throws(ConfigurationError) -> String {
        guard raw.utf8.count <= 300 else {
            throw ConfigurationError(description: "\(setting) is too long (at most 300 bytes)")
        }
        if raw.hasPrefix("db_table:") {
            let name = String(raw.dropFirst("db_table:".count))
            guard !name.isEmpty, name.utf8.count <= maxNameLength, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw ConfigurationError(
                    description: "\(setting) must name a table of 1 to \(maxNameLength) bytes after db_table:"
                )
            }
            return name
        }
        // Django: "AUTH_USER_MODEL must be of the form 'app_label.model_name'".
        let parts = raw.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ isIdentifier($0) }) else {
            throw ConfigurationError(
                description: "\(setting) must be of the form 'app_label.model_name' (or db_table:NAME)"
            )
        }
        return djangoDefaultTable(appLabel: String(parts[0]), modelName: String(parts[1]))
    }

    /// Django's `Options.db_table` default: `"%s_%s" % (app_label, model_name.lower())`, then
    /// `truncate_name` to the backend's limit (first `limit - 4` characters plus 4 hex digits of the
    /// name's MD5).
    public static func djangoDefaultTable(appLabel: String, modelName: String) -> String {
        let name = "\(appLabel)_\(modelName.lowercased())"
        guard name.count > maxNameLength else { return name }
        let digest = Insecure.MD5.hash(data: Array(name.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
        return String(name.prefix(maxNameLength - 4)) + digest.prefix(4)
    }

    /// Django's default `verbose_name` (`camel_case_to_spaces`), capitalised as its messages print it
    /// (`capfirst`): `MyApplication` → `My application`.
    public static func verboseName(_ className: String) -> String {
        let characters = Array(className)
        var spaced = ""
        for (index, character) in characters.enumerated() {
            let upper = character.isUppercase
            let afterLower = index > 0 && characters[index - 1].isLowercase
            let beforeNonUpper = index + 1 < characters.count && !characters[index + 1].isUppercase
            if upper && (afterLower || beforeNonUpper) { spaced.append(" ") }
            spaced.append(character)
        }
        let lowered = spaced.drop { $0 == " " }.lowercased()
        return lowered.prefix(1).uppercased() + lowered.dropFirst()
    }

    /// An ASCII Python identifier (what an app label and a class name are in practice).
    private static func isIdentifier(_ text: Substring) -> Bool {
        guard let first = text.unicodeScalars.first, !(first.properties.numericType != nil && first.isASCII) else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }
}
