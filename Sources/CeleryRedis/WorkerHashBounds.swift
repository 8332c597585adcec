/// Bounds for the values oauthq reads back from a worker hash (`P:worker:<id>`) another process wrote: the
/// reaper and `oauthq status` trust none of them.
public enum WorkerHashBounds {
    /// The most slots a worker may have (`oauthq worker -c` is clamped to it too).
    public static let maximumConcurrency = 1024
    /// The most workers `oauthq status` lists.
    public static let maximumListedWorkers = 1000

    /// The `concurrency` field: an integer in `1...maximumConcurrency`, else nil (absent, not a number, out of
    /// range: the caller scans for the worker's processing lists instead of trusting it).
    public static func concurrency(_ text: String?) -> Int? {
        guard let text, text.utf8.count <= 20, let value = Int(text), (1...maximumConcurrency).contains(value) else { return nil }
        return value
    }
}
