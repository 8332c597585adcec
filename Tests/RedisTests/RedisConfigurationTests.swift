import Redis
import Testing

@Suite("RedisConfiguration URL parsing (no server)")
struct RedisConfigurationTests {
    @Test("redis:// with host, port and db")
    func hostPortDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1:6390/3")
        #expect(configuration.endpoint == .tcp(host: "127.0.0.1", port: 6390))
        #expect(configuration.database == 3)
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
        #expect(configuration.connectTimeout == .seconds(5))
        #expect(configuration.commandTimeout == .seconds(30))
    }

    @Test("defaults: port 6379, db 0, loopback host", arguments: [
        ("redis://localhost", RedisConfiguration.Endpoint.tcp(host: "localhost", port: 6379)),
        ("redis://localhost/", .tcp(host: "localhost", port: 6379)),
        ("redis://", .tcp(host: "127.0.0.1", port: 6379)),
        ("REDIS://example.com:7000", .tcp(host: "example.com", port: 7000)),
        ("redis://[::1]:7001/0", .tcp(host: "::1", port: 7001)),
        ("redis://[::1]", .tcp(host: "::1", port: 6379)),
    ])
    func defaults(url: String, endpoint: RedisConfiguration.Endpoint) throws {
        let configuration = try RedisConfiguration(url: url)
        #expect(configuration.endpoint == endpoint)
        #expect(configuration.database == 0)
    }

    @Test("password only, user and password, percent-encoding")
    func credentials() throws {
        let passwordOnly = try RedisConfiguration(url: "redis://:s3cret@h:1/2")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "s3cret")
        #expect(passwordOnly.endpoint == .tcp(host: "h", port: 1))
        #expect(passwordOnly.database == 2)

        let both = try RedisConfiguration(url: "redis://worker:p%40ss%3Aw%2Fd%20x@h/4")
        #expect(both.username == "worker")
        #expect(both.password == "p@ss:w/d x")
        #expect(both.database == 4)

        // An unencoded '@' in the password: the last '@' ends the credentials.
        let rawAt = try RedisConfiguration(url: "redis://:a@b@h")
        #expect(rawAt.password == "a@b")
        #expect(rawAt.endpoint == .tcp(host: "h", port: 6379))

        let unicode = try RedisConfiguration(url: "redis://%C3%BCser:p%C3%A4ss@h")
        #expect(unicode.username == "üser")
        #expect(unicode.password == "päss")
    }

    @Test("db from ?db= and the path")
    func databaseQuery() throws {
        #expect(try RedisConfiguration(url: "redis://h?db=5").database == 5)
        #expect(try RedisConfiguration(url: "redis://h/5?db=5").database == 5)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h/2?db=3") }
    }

    @Test("unix:// with path, db and credentials")
    func unixSocket() throws {
        let plain = try RedisConfiguration(url: "unix:///var/run/redis/redis.sock")
        #expect(plain.endpoint == .unix(path: "/var/run/redis/redis.sock"))
        #expect(plain.database == 0)

        let withDB = try RedisConfiguration(url: "unix:///tmp/r%20s.sock?db=4")
        #expect(withDB.endpoint == .unix(path: "/tmp/r s.sock"))
        #expect(withDB.database == 4)

        let withAuth = try RedisConfiguration(url: "unix://u:pw@/tmp/r.sock?db=1")
        #expect(withAuth.endpoint == .unix(path: "/tmp/r.sock"))
        #expect(withAuth.username == "u")
        #expect(withAuth.password == "pw")
        #expect(withAuth.database == 1)
    }

    @Test("malformed URLs throw invalidURL without echoing the password", arguments: [
        "http://:hunter2@h:6379",  // bad scheme
        "rediss://:hunter2@h?ssl_cert_reqs=maybe",  // not a verification mode
        ":hunter2@h:6379",  // no scheme
        "redis://:hunter2@h:0",  // port 0
        "redis://:hunter2@h:70000",  // port too big
        "redis://:hunter2@h:abc",  // port not a number
        "redis://:hunter2@h:",  // empty port
        "redis://:hunter2@h:-1",
        "redis://:hunter2@h/abc",  // db not a number
        "redis://:hunter2@h/-1",
        "redis://:hunter2@h/1/2",
        "redis://hunter2@h",  // credentials without ':'
        "redis://:hunter2%zz@h",  // bad percent-encoding
        "redis://:hunter2@h?password=x",  // unknown parameter
        "redis://:hunter2@h?db=",
        "redis://:hunter2@[::1",  // unterminated IPv6
        "redis://:hunter2@h#frag",
        "unix://:hunter2@relative/path",
        "unix://:hunter2@/",
        "redis://:hunt?er2@h",  // an unencoded '?' in the password
    ])
    func malformed(url: String) throws {
        let error = try #require(throws: RedisError.self) { try RedisConfiguration(url: url) }
        #expect(error.code == .invalidURL)
        #expect(!error.description.contains("hunter2"))
        #expect(!error.description.contains("hunt"))
        #expect(!error.localizedDescriptionForTests.contains("hunter2"))
    }

    @Test("invalid settings are rejected")
    func invalidSettings() {
        #expect(throws: RedisError.self) {
            try RedisConfiguration(url: "redis://h", commandTimeout: .zero)
        }
        #expect(throws: RedisError.self) {
            try RedisConfiguration(url: "redis://h", connectTimeout: .seconds(-1))
        }
        #expect(throws: RedisError.self) {
            try RedisConfiguration(endpoint: .tcp(host: "h", port: 1), database: -1)
        }
        #expect(throws: RedisError.self) {
            try RedisConfiguration(endpoint: .tcp(host: "h", port: 1), username: "u", password: nil)
        }
    }

    @Test("description, debugDescription and dump redact the password")
    func redactedDescription() throws {
        let configuration = try RedisConfiguration(url: "redis://worker:hunter2@h:7000/2")
        #expect(configuration.description == "redis://worker:***@h:7000/2")
        #expect(String(reflecting: configuration) == "redis://worker:***@h:7000/2")
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(dumped.contains("***"))
        #expect(!"\(configuration)".contains("hunter2"))

        let unix = try RedisConfiguration(url: "unix://:hunter2@/tmp/r.sock?db=3")
        #expect(unix.description == "unix://:***@/tmp/r.sock?db=3")
    }
}

extension RedisError {
    /// What string interpolation and `String(describing:)` show, as logs would.
    var localizedDescriptionForTests: String { "\(self) \(String(describing: self)) \(String(reflecting: self))" }
}
