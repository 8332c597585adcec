import Foundation
import CeleryProtocol
import TestSupport
import Testing

/// docker-compose.yml is validated by a real Compose implementation, and the Dockerfile builds exactly as the
/// scripts do.
@Suite struct DeploymentFilesTests {
    static let root = RepositoryPaths.root

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The `swift build …` line of a script (the first one that builds the release binary).
    static func releaseBuildCommand(in script: String) throws -> String {
        let line = try #require(
            try text(script).split(separator: "\n").first { $0.contains("swift build -c release --product oauthq") },
            "\(script) has no release build of oauthq")
        let start = try #require(line.range(of: "swift build"))
        // Up to the first redirection or command separator.
        let command = line[start.lowerBound...].prefix { !">|;&".contains($0) }
        return command.trimmingCharacters(in: .whitespaces)
    }

    /// The Dockerfile's stages: the lines from each `FROM` to the next.
    static func stages() throws -> [[String]] {
        var stages: [[String]] = []
        // Continuation lines joined, so one RUN is one line.
        let joined = try text("Dockerfile").replacingOccurrences(of: "\\\n", with: " ")
        for line in joined.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.uppercased().hasPrefix("FROM ") { stages.append([]) }
            if !stages.isEmpty { stages[stages.count - 1].append(line) }
        }
        return stages
    }

    @Test("docker-compose.yml passes `docker-compose config -q`", .enabled(if: ComposeValidator.shouldRun))
    func composeValidates() async throws {
        let output = try await ComposeValidator.run(Self.root.appendingPathComponent("docker-compose.yml"), ["config", "-q"])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr.isEmpty, "warnings: \(output.stderr)")
    }

    @Test("the validator rejects a broken compose file (a condition Compose does not know)",
          .enabled(if: ComposeValidator.shouldRun))
    func validatorRejectsBrokenFile() async throws {
        let original = try Self.text("docker-compose.yml")
        #expect(original.contains("condition: service_completed_successfully"))
        let broken = original.replacingOccurrences(
            of: "condition: service_completed_successfully", with: "condition: service_finished")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-compose-\(UUID().uuidString).yml")
        try broken.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try await ComposeValidator.run(file, ["config", "-q"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("service_finished") || output.stderr.contains("condition"), "\(output.stderr)")
    }

    @Test("the compose services: redis with AOF everysec, postgres 15, migrate first, scalable workers, beat",
          .enabled(if: ComposeValidator.shouldRun))
    func composeServices() async throws {
        let config = try await ComposeValidator.normalised(Self.root.appendingPathComponent("docker-compose.yml"))
        let services = try #require(config["services"]?.objectValue)
        #expect(Set(services.keys) == ["redis", "postgres", "migrate", "worker", "beat"])

        let redis = try #require(config["services"]?["redis"])
        let redisCommand = (redis["command"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " ")
        #expect(redisCommand.contains("--appendonly yes"))
        #expect(redisCommand.contains("--appendfsync everysec"))
        #expect(redis["healthcheck"]?["test"]?.arrayValue?.compactMap(\.stringValue) == ["CMD", "redis-cli", "ping"])

        let postgres = try #require(config["services"]?["postgres"])
        #expect(postgres["image"]?.stringValue?.hasPrefix("postgres:15") == true)
        #expect(postgres["healthcheck"]?["test"]?.arrayValue?.compactMap(\.stringValue).contains("pg_isready") == true)

        let migrate = try #require(config["services"]?["migrate"])
        #expect(migrate["command"]?.arrayValue?.compactMap(\.stringValue) == ["migrate"])
        #expect(migrate["depends_on"]?["postgres"]?["condition"]?.stringValue == "service_healthy")

        for name in ["worker", "beat"] {
            let service = try #require(config["services"]?[name])
            #expect(service["command"]?.arrayValue?.first?.stringValue == name)
            #expect(service["depends_on"]?["migrate"]?["condition"]?.stringValue == "service_completed_successfully",
                    "\(name) must wait for migrate to succeed")
            #expect(service["depends_on"]?["redis"]?["condition"]?.stringValue == "service_healthy")
            let check = (service["healthcheck"]?["test"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " ")
            // The worker is probed on its /healthz (Redis connections and heartbeat), beat through oauthq status.
            #expect(check.contains(name == "worker" ? "/healthz" : "oauthq status"), "\(name)'s healthcheck: \(check)")
            #expect(service["image"] == migrate["image"], "one image for every oauthq service")
            let environment = try #require(service["environment"])
            for key in ["REDIS_URL", "DATABASE_URL", "RESULT_BACKEND"] {
                #expect(environment[key]?.stringValue?.isEmpty == false, "\(name) has no \(key)")
            }
            #expect(environment["OAUTHQ_LOG_FORMAT"]?.stringValue == "json")
            #expect(environment["OAUTHQ_METRICS_PORT"]?.stringValue == "9464")
            #expect(environment["OAUTHQ_METRICS_HOST"]?.stringValue == "0.0.0.0")
        }

        // `docker compose up --scale worker=4`: nothing that two worker containers could both claim.
        let worker = try #require(config["services"]?["worker"])
        #expect(worker["container_name"] == nil)
        #expect(worker["ports"] == nil)
        #expect(worker["hostname"] == nil)
        let grace = try #require(worker["stop_grace_period"]?.stringValue)
        #expect(grace == "45s", "the grace period must outlast the worker's --shutdown-timeout 30")
    }

    @Test("the Dockerfile builds with the scripts' release build command")
    func dockerfileBuildMatchesScripts() throws {
        let quickstart = try Self.releaseBuildCommand(in: "scripts/quickstart.sh")
        #expect(quickstart == "swift build -c release --product oauthq --static-swift-stdlib")
        #expect(try Self.releaseBuildCommand(in: "scripts/bench-worker.sh") == quickstart)

        let stages = try Self.stages()
        try #require(stages.count == 2, "a builder stage and a runtime stage")
        let builder = stages[0]
        let runtime = stages[1]
        #expect(builder[0].hasPrefix("FROM swift:") && builder[0].hasSuffix("-bookworm AS builder"), "\(builder[0])")
        #expect(builder.contains { $0.hasPrefix("RUN ") && $0.contains(quickstart) })
        // The build libraries the scripts install (scripts/test.sh: scripts/apt-install.sh …).
        let scriptPackages = try #require(
            try Self.text("scripts/test.sh").split(separator: "\n").first { $0.hasPrefix("scripts/apt-install.sh") })
            .split(separator: " ").dropFirst().map(String.init)
        #expect(scriptPackages == ["libhiredis-dev", "libpq-dev", "libssl-dev", "pkg-config"])
        let builderInstall = try #require(builder.first { $0.contains("apt-get install") })
        for package in scriptPackages { #expect(builderInstall.contains(" \(package)"), "builder lacks \(package)") }

        #expect(runtime[0] == "FROM debian:bookworm-slim")
        let runtimeInstall = try #require(runtime.first { $0.contains("apt-get install") })
        #expect(runtimeInstall.contains(" libhiredis0.14") && runtimeInstall.contains(" libpq5"))
        // rediss://: OpenSSL and the system CA store.
        #expect(runtimeInstall.contains(" libssl3") && runtimeInstall.contains(" ca-certificates"))
        #expect(!runtimeInstall.contains("-dev"), "no build packages at run time")
        #expect(runtime.contains { $0.hasPrefix("COPY --from=builder ") && $0.hasSuffix(" /usr/local/bin/oauthq") })
        let user = try #require(runtime.last { $0.hasPrefix("USER ") })
        let uid = String(user.dropFirst(5).split(separator: ":")[0])
        #expect(uid != "root" && uid != "0", "the runtime user must not be root")
        #expect(runtime.contains("ENTRYPOINT [\"oauthq\"]"))
    }

    @Test(".dockerignore keeps build output, venvs and service data out of the build context")
    func dockerIgnore() throws {
        let ignored = Set(try Self.text(".dockerignore").split(separator: "\n").map(String.init))
        for entry in [".build", ".venv", ".oauthq-data", ".git"] { #expect(ignored.contains(entry), "\(entry)") }
        let dockerfile = try Self.text("Dockerfile")
        for copied in ["Package.swift", "Sources", "Tests"] {
            #expect(!ignored.contains(copied) && dockerfile.contains("COPY \(copied) "), "\(copied)")
        }
    }
}
