import Postgres
import Testing

@Suite("PostgresConfiguration parsing (no server)")
struct PostgresConfigurationTests {
    @Test("postgres:// URL: every part, application_name defaults to oauthq")
    func url() throws {
        let configuration = try PostgresConfiguration(url: "postgres://alice:s3cr%40t@db.example:6543/oauth?sslmode=disable")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == "6543")
        #expect(configuration.user == "alice")
        #expect(configuration.database == "oauth")
        #expect(configuration["password"] == "s3cr@t")
        #expect(configuration["sslmode"] == "disable")
        #expect(configuration["application_name"] == "oauthq")
        #expect(configuration.connectTimeout == .seconds(10))
        #expect(!configuration.description.contains("s3cr"))
        #expect(configuration.description.contains("password=***"))
    }

    @Test("postgresql:// URL with application_name and connect_timeout given")
    func postgresqlScheme() throws {
        let configuration = try PostgresConfiguration(
            url: "postgresql://bob@127.0.0.1/x?application_name=beat&connect_timeout=3",
            connectTimeout: .seconds(30)
        )
        #expect(configuration.user == "bob")
        #expect(configuration["application_name"] == "beat")
        #expect(configuration.connectTimeout == .seconds(3))
    }

    @Test("key=value conninfo, quoted password")
    func conninfo() throws {
        let configuration = try PostgresConfiguration(url: "host=127.0.0.1 port=5440 dbname=oauthq user=postgres password='a b'")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == "5440")
        #expect(configuration.database == "oauthq")
        #expect(configuration["password"] == "a b")
        #expect(configuration["application_name"] == "oauthq")
    }

    @Test(
        "invalid input throws .invalidConfiguration without the password",
        arguments: [
            "postgres://u:hunter2pw@h:notaport/db",
            "postgres://u:hunter2pw@h/db?bogus=1",
            "postgres://u:hunter2pw%zz@h/db",
            "mysql://u:hunter2pw@h/db",
            "host=h password=hunter2pw nonsense",
            "host=h password='hunter2pw' bogus_key=1",
            "postgres://u:hunter2pw@h:70000/db",
            "   ",
        ]
    )
    func invalid(input: String) throws {
        let error = try #require(throws: PostgresError.self) { try PostgresConfiguration(url: input) }
        #expect(error.code == .invalidConfiguration)
        #expect(!error.description.contains("hunter2"))
        #expect(!(error.message ?? "").contains("hunter2"))
        #expect(!error.description.contains("\n"))
    }
}
