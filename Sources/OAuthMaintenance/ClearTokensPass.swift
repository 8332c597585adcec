/// One pass of a cleartokens run over one table: a primary-key walk (``ClearTokensWalk``) or one
/// step driven by its cleanup index (``ClearTokensStep/indexedBatch(_:after:limit:)``).
enum ClearTokensPass: Sendable, Equatable {
    case walk(ClearTokensWalk)
    case indexed(ClearTokensStep)

    /// `walk` or `index`, as the step results say.
    var via: String {
        switch self {
        case .walk: "walk"
        case .indexed: "index"
        }
    }

    /// The steps the pass performs, in DOT's order.
    var steps: [ClearTokensStep] {
        switch self {
        case .walk(let walk): walk.steps
        case .indexed(let step): [step]
        }
    }
}
