#if canImport(Glibc)
import Glibc
#endif

/// Why the metrics endpoint could not be opened. The description names the address and the system's reason.
public struct MetricsServerError: Error, Sendable, CustomStringConvertible {
    /// The step that failed. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum _Code: Sendable, Hashable {
            case resolve, socket, bind, listen
        }

        private let code: _Code
        private init(_ code: _Code) { self.code = code }

        /// The host is not an address or a name that resolves.
        public static let resolve = Code(.resolve)
        /// No socket could be made.
        public static let socket = Code(.socket)
        /// The address is in use or not ours (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`).
        public static let bind = Code(.bind)
        /// `listen(2)` failed.
        public static let listen = Code(.listen)

        public var description: String {
            switch code {
            case .resolve: "resolve"
            case .socket: "socket"
            case .bind: "bind"
            case .listen: "listen"
            }
        }
    }

    public let code: Code
    /// `host:port`.
    public let address: String
    /// The system's message (`strerror`, `gai_strerror`).
    public let reason: String

    public init(_ code: Code, address: String, reason: String) {
        self.code = code
        self.address = address
        self.reason = reason
    }

    /// An error from `errno`.
    static func posix(_ code: Code, address: String, errno value: Int32) -> MetricsServerError {
        MetricsServerError(code, address: address, reason: String(cString: strerror(value)))
    }

    public var description: String {
        "MetricsServerError.\(code): cannot serve metrics on \(address): \(reason)"
    }
}
