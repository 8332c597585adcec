import ArgumentParser
import Foundation
import Logging
import Metrics
import Observability
import Prometheus

/// `--metrics-port` / `--metrics-host` (defaults `$OAUTHQ_METRICS_PORT`, `$OAUTHQ_METRICS_HOST`): a Prometheus
/// endpoint for the worker, off unless a port is given.
struct MetricsOptions: ParsableArguments {
    @Option(name: .customLong("metrics-port"), help: "Serve Prometheus metrics at http://HOST:PORT/metrics (default: $OAUTHQ_METRICS_PORT; unset or 0: off).")
    var portFlag: Int?

    @Option(name: .customLong("metrics-host"), help: "Address the metrics endpoint listens on (default: $OAUTHQ_METRICS_HOST, else 127.0.0.1).")
    var hostFlag: String?

    /// The port, nil when metrics are off.
    func port() throws -> Int? {
        let port: Int
        if let portFlag {
            port = portFlag
        } else if let text = Environment.value("OAUTHQ_METRICS_PORT") {
            guard let parsed = Int(text) else { throw ValidationError("OAUTHQ_METRICS_PORT \"\(text)\": expected a port number") }
            port = parsed
        } else {
            return nil
        }
        guard (0...65_535).contains(port) else {
            throw ValidationError("\(portFlag == nil ? "OAUTHQ_METRICS_PORT" : "--metrics-port") \(port): expected 0 to 65535")
        }
        return port == 0 ? nil : port
    }

    var host: String {
        hostFlag ?? Environment.value("OAUTHQ_METRICS_HOST") ?? "127.0.0.1"
    }

    func validate() throws {
        _ = try port()
    }

    /// The duration buckets of `oauthq_task_duration_seconds`: 1 ms to 15 min (ping takes microseconds,
    /// cleartokens minutes on a large table).
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900),
    ]

    /// When a port is set: bootstraps swift-metrics with a Prometheus registry and starts the endpoint.
    /// - Returns: the running server (nil when metrics are off).
    /// - Throws: ``MetricsServerError`` when the address cannot be listened on.
    func start(logger: Logger) throws -> MetricsHTTPServer? {
        guard let port = try port() else { return nil }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        let server = try MetricsHTTPServer(host: host, port: port) {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(4096)
            registry.emit(into: &buffer)
            return buffer
        }
        MetricsSystem.bootstrap(factory)
        server.start()
        logger.info("metrics at http://\(server.address)/metrics")
        return server
    }
}
