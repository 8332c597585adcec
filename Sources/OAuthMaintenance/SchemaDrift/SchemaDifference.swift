/// One way the database differs from the DOT 3.4.1 schema this oauthq release was built for.
public struct SchemaDifference: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Whether oauthq can still do DOT's work exactly.
    public enum Severity: String, Sendable, Hashable {
        /// oauthq's results are unchanged (a nullable or defaulted extra column, a wider type, …).
        case harmless
        /// Some task would fail at run time or leave rows DOT would delete: it is refused.
        case blocking
    }

    public var severity: Severity
    /// What differs: `table t`, `column t.c`, `foreign key t.c -> u`.
    public var subject: String
    /// How it differs and what it means, one sentence.
    public var reason: String
    /// The tasks that must not run while it lasts (empty when harmless).
    public var blockedTasks: [String]

    public init(severity: Severity, subject: String, reason: String, blockedTasks: [String] = []) {
        self.severity = severity
        self.subject = subject
        self.reason = reason
        self.blockedTasks = severity == .blocking ? blockedTasks : []
    }

    /// One line: `blocking: column oauth2_provider_application.x: NOT NULL without a default (createapplication)`.
    public var description: String {
        let tasks = blockedTasks.isEmpty ? "" : " (blocks \(blockedTasks.joined(separator: ", ")))"
        return "\(severity.rawValue): \(subject): \(reason)\(tasks)"
    }
}

/// Everything ``DOTSchema/drift(on:tables:)`` found.
public struct SchemaDriftReport: Sendable, Equatable {
    public var differences: [SchemaDifference]

    public init(differences: [SchemaDifference]) {
        self.differences = differences
    }

    public var blocking: [SchemaDifference] { differences.filter { $0.severity == .blocking } }
    public var harmless: [SchemaDifference] { differences.filter { $0.severity == .harmless } }

    /// The blocking differences that stop `task`, or empty when it may run.
    public func blocking(task: String) -> [SchemaDifference] {
        blocking.filter { $0.blockedTasks.contains(task) }
    }

    /// The tasks refused, with the first blocking subject, in one short line (for `oauthq status`), or nil.
    public var statusNotice: String? {
        let refused = Array(Set(blocking.flatMap(\.blockedTasks))).sorted()
        guard let first = blocking.first, !refused.isEmpty else { return nil }
        let more = blocking.count > 1 ? " and \(blocking.count - 1) more" : ""
        return "schema drift: refuses \(refused.joined(separator: ", ")) (\(first.subject)\(more); oauthq migrate --check)"
    }

    /// Why `task` is refused, in one line, or nil when it may run.
    public func refusal(task: String) -> String? {
        let reasons = blocking(task: task)
        guard !reasons.isEmpty else { return nil }
        let listed = reasons.prefix(5).map { "\($0.subject): \($0.reason)" }.joined(separator: "; ")
        let more = reasons.count > 5 ? "; and \(reasons.count - 5) more" : ""
        return "the database schema differs from DOT 3.4.1's in a way \(task) cannot handle: \(listed)\(more) (see `oauthq migrate --check`)"
    }
}
