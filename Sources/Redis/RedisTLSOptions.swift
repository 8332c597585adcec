/// How a `rediss://` (or TLS `sentinel://`) connection verifies the server, and the client certificate it
/// presents. The URL query parameters are kombu's and redis-py's (`ssl_cert_reqs`, `ssl_ca_certs`,
/// `ssl_certfile`, `ssl_keyfile`, `ssl_check_hostname`), so a Celery URL works unchanged.
///
/// The default verifies the server's certificate chain against the system CA store (plus
/// ``caCertificatesPath`` when given) and its name against the host of the URL.
public struct RedisTLSOptions: Sendable, Hashable {
    /// Whether the server must present a certificate that verifies (`ssl_cert_reqs`).
    public enum CertificateRequirement: String, Sendable, Hashable {
        /// The chain must verify (`required`, `CERT_REQUIRED`); the default.
        case required
        /// As for Python's `ssl.CERT_OPTIONAL` on a client: a server always presents a certificate, so it
        /// must verify, exactly as with ``required`` (`optional`, `CERT_OPTIONAL`).
        case optional
        /// No verification at all (`none`, `CERT_NONE`): anyone on the path can read and change the traffic.
        case none
    }

    /// `ssl_cert_reqs`.
    public var certificateRequirement: CertificateRequirement
    /// `ssl_ca_certs`: a PEM file of CA certificates trusted in addition to the system store.
    public var caCertificatesPath: String?
    /// `ssl_certfile`: the client certificate (PEM, may include its chain), for mutual TLS.
    public var certificatePath: String?
    /// `ssl_keyfile`: the client certificate's private key (PEM); defaults to ``certificatePath``.
    public var keyPath: String?
    /// `ssl_check_hostname`: whether the certificate must name the host connected to (DNS name or IP
    /// address). Ignored (false) when ``certificateRequirement`` is ``CertificateRequirement/none``.
    public var checkHostname: Bool

    /// Creates options; the defaults verify the chain and the host name.
    public init(
        certificateRequirement: CertificateRequirement = .required,
        caCertificatesPath: String? = nil,
        certificatePath: String? = nil,
        keyPath: String? = nil,
        checkHostname: Bool = true
    ) {
        self.certificateRequirement = certificateRequirement
        self.caCertificatesPath = caCertificatesPath
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.checkHostname = checkHostname
    }

    /// Whether the server's certificate is verified at all.
    public var verifiesCertificate: Bool { certificateRequirement != .none }

    /// Whether the server's name is checked against its certificate.
    public var verifiesHostname: Bool { verifiesCertificate && checkHostname }
}
