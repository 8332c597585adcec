import CivilCalendar
#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import OAuthMaintenance
import Synchronization

/// Progress of the running maintenance steps, for people. On a terminal: one live line on stderr,
/// redrawn at most every ``drawInterval`` (about twice a second), which the step's summary line then
/// replaces. Elsewhere (logs, the worker): one line per running step every ``logInterval``, never one
/// per batch. Fed after every batch; rate-limited here, so a batch costs a clock read and a lock.
public final class ProgressReporter: Sendable {
    private struct Step {
        var started: ContinuousClock.Instant
        var lastLine: ContinuousClock.Instant
    }

    private struct State {
        var steps: [String: Step] = [:]
        var lastDraw: ContinuousClock.Instant?
        var liveLineShown = false
    }

    public let isTerminal: Bool
    public let drawInterval: Duration
    public let logInterval: Duration
    private let output: @Sendable (String) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - isTerminal: draw a live line or log periodic lines (nil: draw when stderr is a terminal).
    ///   - output: where periodic lines go (nil: stderr, one line each; the worker passes its logger).
    public init(
        isTerminal: Bool? = nil,
        drawInterval: Duration = .milliseconds(500),
        logInterval: Duration = .seconds(10),
        output: (@Sendable (String) -> Void)? = nil
    ) {
        self.isTerminal = isTerminal ?? (isatty(STDERR_FILENO) != 0)
        self.drawInterval = drawInterval
        self.logInterval = logInterval
        self.output = output ?? { line in FileHandle.standardError.write(Data("\(line)\n".utf8)) }
    }

    /// A batch finished.
    public func update(_ progress: MaintenanceProgress) {
        let now = ContinuousClock.now
        let line: String? = state.withLock { state in
            var step = state.steps[progress.step] ?? Step(started: now, lastLine: now)
            defer { state.steps[progress.step] = step }
            if isTerminal {
                if let last = state.lastDraw, now - last < drawInterval { return nil }
                state.lastDraw = now
                state.liveLineShown = true
                return "\r\u{1B}[2K" + Self.describe(progress, elapsed: now - step.started)
            }
            guard now - step.lastLine >= logInterval else { return nil }
            step.lastLine = now
            return "progress: " + Self.describe(progress, elapsed: now - step.started) + "\n"
        }
        if let line { write(line) }
    }

    /// A step ended: its summary line (replacing the live line on a terminal).
    public func finish(_ step: String, summary: String) {
        let clear = state.withLock { state -> Bool in
            state.steps = state.steps.filter { !$0.key.split(separator: ",").contains(Substring(step)) }
            defer { state.liveLineShown = false }
            return state.liveLineShown
        }
        write((clear ? "\r\u{1B}[2K" : "") + summary + "\n")
    }

    /// The run ended without a summary line of its own on stderr: clear the live line, if one is shown.
    public func finishLiveLine() {
        let clear = state.withLock { state -> Bool in
            state.steps = [:]
            defer { state.liveLineShown = false }
            return state.liveLineShown
        }
        if clear { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    private func write(_ text: String) {
        if isTerminal {
            FileHandle.standardError.write(Data(text.utf8))
        } else {
            output(String(text.dropLast()))
        }
    }

    /// `expired_access_tokens: 120000 deleted, 12 batches, 40000 rows/s, 37% of ids, ETA 5 s`.
    public static func describe(_ progress: MaintenanceProgress, elapsed: Duration) -> String {
        let seconds = max(elapsed.seconds, 0.001)
        let rate = Int(Double(progress.deleted) / seconds)
        let percent = Int((progress.fraction * 100).rounded(.down))
        var line = "\(label(progress.step)): \(progress.deleted) deleted, \(progress.batches) "
            + (progress.batches == 1 ? "batch" : "batches") + ", \(rate) rows/s"
        if progress.fraction > 0 {
            let remaining = seconds * (1 - progress.fraction) / progress.fraction
            line += ", \(percent)% of ids, ETA \(Self.duration(remaining))"
        }
        return line
    }

    /// Steps 1–3 walked together read as one.
    static func label(_ step: String) -> String {
        step.contains(",") ? "steps 1-3 (refresh tokens)" : step
    }

    /// `42 s`, `3 min 5 s`, `2 h 10 min`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 1e7 else { return "?" }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole % 3600 / 60) min"
    }
}
