import Synchronization

/// A one-line notice a worker shows in its Redis hash (field `notice`) and so in `oauthq status`: for example
/// which tasks it refuses because of schema drift. Set from anywhere (the task handlers' side); the
/// heartbeat publishes the current text every second, and clears the field when it is nil.
public final class WorkerNotice: Sendable {
    /// Longest notice stored; longer text is cut (the hash is read back by other processes).
    public static let maximumLength = 240

    private let text = Mutex<String?>(nil)

    public init() {}

    /// The notice now (nil: none).
    public var current: String? {
        text.withLock { $0 }
    }

    /// Replaces the notice; nil or empty clears it.
    public func set(_ newValue: String?) {
        let value = newValue.flatMap { $0.isEmpty ? nil : String($0.prefix(Self.maximumLength)) }
        text.withLock { $0 = value }
    }
}
