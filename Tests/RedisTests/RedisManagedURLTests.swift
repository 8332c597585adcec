import Redis
import Testing

/// `rediss://` and `sentinel://` URLs as kombu/Celery write them (no server).
@Suite("rediss:// and sentinel:// URL parsing (no server)")
struct RedisManagedURLTests {
    @Test("rediss:// defaults: verify the chain with the system store and the host name")
    func tlsDefaults() throws {
        let configuration = try RedisConfiguration(url: "rediss://:s3cret@cache.example.com:6380/2")
        #expect(configuration.endpoint == .tcp(host: "cache.example.com", port: 6380))
        #expect(configuration.database == 2)
        #expect(configuration.password == "s3cret")
        let tls = try #require(configuration.tls)
        #expect(tls.certificateRequirement == .required)
        #expect(tls.verifiesHostname)
        #expect(tls.caCertificatesPath == nil)
        #expect(try RedisConfiguration(url: "redis://h").tls == nil)
    }

    @Test("kombu's query parameters, in either spelling", arguments: [
        ("ssl_cert_reqs=required", RedisTLSOptions.CertificateRequirement.required),
        ("ssl_cert_reqs=CERT_REQUIRED", .required),
        ("ssl_cert_reqs=optional", .optional),
        ("ssl_cert_reqs=CERT_OPTIONAL", .optional),
        ("ssl_cert_reqs=none", RedisTLSOptions.CertificateRequirement.none),
        ("ssl_cert_reqs=CERT_NONE", RedisTLSOptions.CertificateRequirement.none),
    ])
    func certificateRequirement(query: String, expected: RedisTLSOptions.CertificateRequirement) throws {
        let tls = try #require(try RedisConfiguration(url: "rediss://h?\(query)").tls)
        #expect(tls.certificateRequirement == expected)
        #expect(tls.verifiesCertificate == (expected != .none))
        #expect(tls.verifiesHostname == (expected != .none))
    }

    @Test("files and host name checking; values are percent-decoded")
    func files() throws {
        let url = "rediss://h:6379/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ssl/my%20ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_check_hostname=false&db=0"
        let tls = try #require(try RedisConfiguration(url: url).tls)
        #expect(tls.caCertificatesPath == "/etc/ssl/my ca.pem")
        #expect(tls.certificatePath == "/c.pem")
        #expect(tls.keyPath == "/k.pem")
        #expect(!tls.checkHostname)
        #expect(!tls.verifiesHostname)
        #expect(tls.verifiesCertificate)
    }

    @Test("refused: ssl_* on redis:// or unix://, bad values, unknown parameters", arguments: [
        "redis://:hunter2@h?ssl_cert_reqs=none",
        "unix://:hunter2@/tmp/r.sock?ssl_ca_certs=/ca",
        "rediss://:hunter2@h?ssl_cert_reqs=sometimes",
        "rediss://:hunter2@h?ssl_check_hostname=perhaps",
        "rediss://:hunter2@h?ssl_ca_certs=",
        "rediss://:hunter2@h?ssl_ca_certs=%zz",
        "rediss://:hunter2@h?ssl_password=x",
        "sentinel://:hunter2@h:26379;redis://h2:26379",
        "sentinel://:hunter2@h:0",
        "sentinel://:hunter2@h;sentinel://:other@h2",
        "sentinel://:hunter2@h/1;sentinel://h2/2",
    ])
    func refused(url: String) throws {
        let error = try #require(throws: RedisError.self) { try RedisConfiguration(url: url) }
        #expect(error.code == .invalidURL)
        #expect(!error.description.contains("hunter2"))
    }

    @Test("sentinel:// forms: one or several sentinels, default port 26379, credentials and db on any part")
    func sentinels() throws {
        let one = try RedisConfiguration(url: "sentinel://localhost:26380")
        #expect(one.endpoint == .sentinel(nodes: [.init(host: "localhost", port: 26380)]))
        #expect(one.tls == nil)

        let several = try RedisConfiguration(url: "sentinel://:s3cret@s1;sentinel://s2:26380;sentinel://[::1]/3")
        #expect(several.endpoint == .sentinel(nodes: [.init(host: "s1"), .init(host: "s2", port: 26380), .init(host: "::1", port: 26379)]))
        #expect(several.password == "s3cret")
        #expect(several.database == 3)

        let tls = try RedisConfiguration(url: "sentinel://s1:26379?ssl_cert_reqs=required&ssl_ca_certs=/ca.pem;sentinel://s2:26379")
        #expect(tls.tls?.caCertificatesPath == "/ca.pem")

        var described = several
        described.sentinelMaster = "mymaster"
        described.sentinelPassword = "hunter2"
        #expect(described.description == "sentinel://:***@s1:26379;sentinel://s2:26380;sentinel://[::1]:26379/3 (master mymaster)")
        var dumped = ""
        dump(described, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(!dumped.contains("s3cret"))
    }
}
