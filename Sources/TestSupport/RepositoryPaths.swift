public import Foundation

/// Paths inside the checkout, for tests that run the built binary or the Python reference side.
public enum RepositoryPaths {
    /// The checkout's root (the folder holding Package.swift), found from this source file.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// `harness/reference/<name>`.
    public static func reference(_ name: String) -> URL {
        root.appendingPathComponent("harness/reference").appendingPathComponent(name)
    }

    /// The `oauthq` executable of the current build (the same configuration as the tests).
    public static var oauthqBinary: URL {
        let candidates = [".build/debug/oauthq", ".build/release/oauthq"]
        for candidate in candidates {
            let url = root.appendingPathComponent(candidate)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return root.appendingPathComponent(candidates[0])
    }

    /// The Python of the git-ignored venv made by `scripts/python-env.sh`.
    public static var venvPython: URL { root.appendingPathComponent(".venv/bin/python") }
}
