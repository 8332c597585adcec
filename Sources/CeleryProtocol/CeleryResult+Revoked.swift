public import Foundation

extension CeleryResult {
    /// What Celery stores for a revoked task: `REVOKED` with `TaskRevokedError(reason)` (`revoked`, or
    /// `terminated` when it was cancelled while running).
    public static func revoked(taskID: String, reason: String = "revoked", dateDone: Date = Date()) -> CeleryResult {
        CeleryResult(
            taskID: taskID, state: .revoked,
            result: failure(type: "TaskRevokedError", module: "celery.exceptions", messages: [.string(reason)]), dateDone: dateDone
        )
    }
}
