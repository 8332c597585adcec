extension Duration {
    /// The duration in seconds, as a `Double` (attosecond precision is more than a `Double` keeps).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
