import ArgumentParser
import Foundation

/// An error the CLI reports as one line on stderr (`oauthq: error: …`) with its own exit status.
struct CommandFailure: Error, CustomStringConvertible {
    let exitCode: Int32
    let description: String

    init(exitCode: Int32 = 1, _ description: String) {
        self.exitCode = exitCode
        self.description = description
    }
}

extension AsyncParsableCommand {
    /// Runs a command body so that every error — a server error, a bad URL, a failed connect — becomes
    /// one clear line on stderr and a non-zero exit status, never a stack trace. Descriptions of oauthq's
    /// own error types never contain passwords, secrets or bound values.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as CommandFailure {
            Console.error(error.description)
            throw ExitCode(error.exitCode)
        } catch let error as ExitCode {
            throw error
        } catch {
            Console.error(String(describing: error))
            throw ExitCode(1)
        }
    }
}

/// Output helpers: stdout for results, stderr for diagnostics.
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("oauthq: error: \(message)\n".utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("oauthq: warning: \(message)\n".utf8))
    }

    static func info(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }
}
