/// A failure setting up a test fixture (a server that does not start, a tool that fails): one line.
public struct FixtureError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
