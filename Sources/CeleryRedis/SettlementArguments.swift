/// The six script arguments of one settlement, defined once for Swift and Lua: Swift encodes them with
/// ``encoded``, and the `cycle` script reads them through ``luaLocals``, which is built from the same
/// ``Field`` offsets. Adding, removing or reordering a field changes both sides together.
struct SettlementArguments: Sendable, Hashable {
    /// The arguments in script order; the raw value is the offset from the settlement's first argument.
    enum Field: Int, CaseIterable, Sendable {
        /// The message as fetched (removed from the processing list with `LREM`).
        case message
        /// The result JSON, or empty for none.
        case result
        /// The result's time to live in seconds (0: none).
        case ttl
        /// ``Action``'s raw value.
        case action
        /// The delayed-set member, the dead-letter record or the message to push.
        case payload
        /// The delayed-set score (milliseconds) for `delay`, else empty.
        case score

        /// The Lua local that holds this field.
        var luaName: String {
            switch self {
            case .message: "message"
            case .result: "result"
            case .ttl: "ttl"
            case .action: "action"
            case .payload: "payload"
            case .score: "score"
            }
        }
    }

    /// What the script does with the message once it has left the processing list.
    enum Action: String, Sendable, CaseIterable {
        /// Nothing more (the result, if any, is written even when the message was gone).
        case ack
        /// `ZADD` the payload to the delayed set.
        case delay
        /// `RPUSH` the payload (a dead-letter record) to the dead list.
        case dead
        /// `RPUSH` the payload (a message) to a queue list.
        case push
    }

    /// How many arguments one settlement takes.
    static let count = Field.allCases.count

    var message: [UInt8]
    var result: [UInt8] = []
    var ttl: Int = 0
    var action: Action = .ack
    var payload: [UInt8] = []
    var score: String = ""

    /// The arguments in ``Field`` order.
    var encoded: [[UInt8]] {
        Field.allCases.map { field in
            switch field {
            case .message: message
            case .result: result
            case .ttl: Array(String(ttl).utf8)
            case .action: Array(action.rawValue.utf8)
            case .payload: payload
            case .score: Array(score.utf8)
            }
        }
    }

    /// Lua that declares one local per field from `ARGV`, the settlement's first argument being at index
    /// `base` (a Lua expression), e.g. `local message, result, … = ARGV[a + 0], ARGV[a + 1], …`.
    static func luaLocals(base: String) -> String {
        let names = Field.allCases.map(\.luaName).joined(separator: ", ")
        let values = Field.allCases.map { "ARGV[\(base) + \($0.rawValue)]" }.joined(separator: ", ")
        return "local \(names) = \(values)"
    }
}
