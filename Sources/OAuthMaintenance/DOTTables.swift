/// The tables DOT's models live in. DOT's defaults are `oauth2_provider_*` and Django's `auth_user`;
/// a project that swaps a model (`OAUTH2_PROVIDER_APPLICATION_MODEL`, …, `AUTH_USER_MODEL`) has its own.
///
/// Names are identifiers from configuration: every query quotes them (`\(identifier:)`), never binds
/// or splices them raw.
public struct DOTTables: Sendable, Equatable, Hashable {
    public var application: String
    public var accessToken: String
    public var refreshToken: String
    public var idToken: String
    public var grant: String
    public var user: String
    /// The application model's `verbose_name` as Django derives it from the class name (`Application`
    /// for DOT's; `Client` for `app.Client`), which Django's unique-check message starts with.
    public var applicationVerboseName = "Application"

    public init(
        application: String = "oauth2_provider_application",
        accessToken: String = "oauth2_provider_accesstoken",
        refreshToken: String = "oauth2_provider_refreshtoken",
        idToken: String = "oauth2_provider_idtoken",
        grant: String = "oauth2_provider_grant",
        user: String = "auth_user"
    ) {
        self.application = application
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.idToken = idToken
        self.grant = grant
        self.user = user
    }

    /// DOT's own tables, unswapped.
    public static let standard = DOTTables()

    /// Whether every model is DOT's own (no swapped model).
    public var isStandard: Bool { self == .standard }
}
