extension CeleryMessage {
    /// The header in which oauthq counts the workers that died while holding this message
    /// (`oauthq_worker_lost`: an integer; absent means 0). A reaper adds one each time it returns the message
    /// from the processing list of a worker whose heartbeat expired.
    public static let workerLostHeader = "oauthq_worker_lost"

    /// How many workers died holding this message: `headers.oauthq_worker_lost` clamped to `0...1_000_000`
    /// (0 when absent or not an integer).
    public var workerLostCount: Int {
        guard case .int(let count)? = headers[Self.workerLostHeader] else { return 0 }
        return Int(Swift.min(Swift.max(count, 0), 1_000_000))
    }

    /// ``redelivered()`` with `oauthq_worker_lost` set to one more than now: the bytes a reaper returns to the
    /// queue for a message whose worker died.
    public func redeliveredAfterWorkerLoss() -> [UInt8] {
        redelivered(settingHeaders: [Self.workerLostHeader: .int(Int64(workerLostCount + 1))])
    }

    /// The header in which oauthq counts how often a message was deferred because a live run of the same task
    /// was doing the work (`oauthq_deferred`: an integer; absent means 0).
    public static let deferredHeader = "oauthq_deferred"

    /// `headers.oauthq_deferred` clamped to `0...1_000_000` (0 when absent or not an integer).
    public var deferredCount: Int {
        guard case .int(let count)? = headers[Self.deferredHeader] else { return 0 }
        return Int(Swift.min(Swift.max(count, 0), 1_000_000))
    }

    /// The message with `oauthq_deferred` one more than now (all else unchanged).
    public func deferredAgain() -> [UInt8] {
        var envelope = self.envelope
        var headers = self.headers
        headers[Self.deferredHeader] = .int(Int64(Swift.min(deferredCount + 1, 1_000_000)))
        envelope["headers"] = .object(headers)
        return JSONValue.object(envelope).serialized()
    }

    /// The message without oauthq's delivery counters (`oauthq_worker_lost`, `oauthq_deferred`): what an operator's
    /// requeue of a dead letter sends, so that a poison pill that was fixed gets a fresh count. The same bytes
    /// when neither header is present.
    public func withoutDeliveryCounters() -> [UInt8] {
        guard headers.contains(Self.workerLostHeader) || headers.contains(Self.deferredHeader) else { return raw }
        var envelope = self.envelope
        var headers = self.headers
        headers[Self.workerLostHeader] = nil
        headers[Self.deferredHeader] = nil
        envelope["headers"] = .object(headers)
        return JSONValue.object(envelope).serialized()
    }
}
