import Crypto

/// The client id `createapplication` uses when the task gives none: derived from the task id, so that every
/// delivery of one task asks for the same client id and the database's unique constraint on `client_id` lets
/// only one of them create the application. 40 characters of DOT's client-id alphabet (`A-Za-z0-9`), like
/// DOT's generated ids; a client id is public, so being derivable from the task id reveals nothing secret.
enum TaskClientID {
    /// How many times a duplicate delivery waits (``CeleryRedis/JobError/busyDelay`` each) for the first
    /// delivery's result before it answers without the secret.
    static let maximumDeferrals = 30

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    static func derive(taskID: String) -> String {
        var characters: [Character] = []
        var counter: UInt8 = 0
        while characters.count < 40 {
            var hasher = SHA256()
            hasher.update(data: Array("oauthq createapplication client id\u{0}".utf8))
            hasher.update(data: Array(taskID.utf8))
            hasher.update(data: [counter])
            for byte in hasher.finalize() where byte < 248 && characters.count < 40 {  // 248 = 4 × 62: no bias
                characters.append(alphabet[Int(byte) % alphabet.count])
            }
            counter &+= 1
        }
        return String(characters)
    }
}
