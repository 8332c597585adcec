// Generated from real DOT 3.4.1 runs (harness/reference venv, Python 3.11.7, Django 5.2.19):
// `call_command("createapplication", ...)` stdout on a database where auth_user id 1 and client_id
// "oauthq-seed-app" exist. Successful runs print random values, so only their shape is kept.
@testable import OAuthMaintenance

struct DOTObservation: Sendable {
    enum Expected: Sendable {
        case success(secretPrinted: Bool)
        case failure([String])
    }

    let request: CreateApplicationRequest
    let expected: Expected

    static let lookup = StaticApplicationLookup(userIDs: [1], clientIDs: ["oauthq-seed-app"])

    static let all: [DOTObservation] = [
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "foo",
                authorizationGrantType: "bar"),
            expected: .failure([
                "Please correct the following errors:",
                " - client_type: [\"Value 'foo' is not a valid choice.\"]",
                " - authorization_grant_type: [\"Value 'bar' is not a valid choice.\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "authorization-code"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: ['redirect_uris cannot be empty with grant_type authorization-code']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "authorization-code",
                user: "999",
                redirectURIs: "https://a.example/cb"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['user instance with id 999 is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "authorization-code",
                user: "alice",
                redirectURIs: "https://a.example/cb"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['\u{201c}alice\u{201d} value must be an integer.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "authorization-code",
                redirectURIs: "https://a.example/cb#frag http://localhost:8000/cb?x=1 com.example.app:/cb https:/nohost"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: ['redirect uri URI validation error. fragment not allowed: https://a.example/cb#frag', 'redirect uri URI Validation error. invalid_scheme: com.example.app:/cb', 'redirect uri URI validation error. missing host: https:/nohost']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "authorization-code",
                redirectURIs: "https://a.example/cb",
                algorithm: "HS256"),
            expected: .failure([
                "Please correct the following errors:",
                " - hash_client_secret: ['You cannot use HS256 with a hashed client secret. For HS256 the client secret is the shared signing key and must be stored unhashed so the relying party can verify the token; set hash_client_secret=False and store an unhashed client_secret on this application.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "",
                authorizationGrantType: ""),
            expected: .failure([
                "Please correct the following errors:",
                " - client_type: ['This field cannot be blank.']",
                " - authorization_grant_type: ['This field cannot be blank.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "bogus",
                authorizationGrantType: "authorization-code",
                user: "999",
                name: String(repeating: "n", count: 256),
                algorithm: "RS256"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['user instance with id 999 is not a valid choice.']",
                " - client_type: [\"Value 'bogus' is not a valid choice.\"]",
                " - name: ['Ensure this value has at most 255 characters (it has 256).']",
                " - redirect_uris: ['redirect_uris cannot be empty with grant_type authorization-code']",
                " - algorithm: ['You must set OIDC_RSA_PRIVATE_KEY to use RSA algorithm']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                clientID: "oauthq-seed-app"),
            expected: .failure([
                "Please correct the following errors:",
                " - client_id: ['Application with this Client ID already exists.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "public",
                authorizationGrantType: "implicit",
                redirectURIs: "https://a.example/cb",
                hashClientSecret: false,
                algorithm: "HS256"),
            expected: .failure([
                "Please correct the following errors:",
                " - algorithm: ['You cannot use HS256 with public grants or clients']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                clientSecret: "pbkdf2_sha256$foo",
                hashClientSecret: false,
                algorithm: "HS256"),
            expected: .failure([
                "Please correct the following errors:",
                " - client_secret: ['You cannot use HS256 with a hashed client secret. For HS256 the client secret is the shared signing key and must be stored unhashed so the relying party can verify the token; set hash_client_secret=False and store an unhashed client_secret on this application.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                clientSecret: "pbkdf2_sha256$" + String(repeating: "x", count: 300),
                hashClientSecret: false,
                algorithm: "HS256"),
            expected: .failure([
                "Please correct the following errors:",
                " - client_secret: ['Ensure this value has at most 255 characters (it has 314).', 'You cannot use HS256 with a hashed client secret. For HS256 the client secret is the shared signing key and must be stored unhashed so the relying party can verify the token; set hash_client_secret=False and store an unhashed client_secret on this application.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                algorithm: "hs256"),
            expected: .failure([
                "Please correct the following errors:",
                " - algorithm: [\"Value 'hs256' is not a valid choice.\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                algorithm: "it's"),
            expected: .failure([
                "Please correct the following errors:",
                " - algorithm: ['Value \"it\\'s\" is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "it's \"q\"",
                authorizationGrantType: "password"),
            expected: .failure([
                "Please correct the following errors:",
                " - client_type: ['Value \\'it\\\\\\'s \"q\"\\' is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "conf\u{e9}\u{301}\u{a}\u{9}\u{0}\u{200b}\u{1f600}",
                authorizationGrantType: "password"),
            expected: .failure([
                "Please correct the following errors:",
                " - client_type: [\"Value 'conf\u{e9}\u{301}\\\\n\\\\t\\\\x00\\\\u200b\u{1f600}' is not a valid choice.\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "authorization_code"),
            expected: .failure([
                "Please correct the following errors:",
                " - authorization_grant_type: [\"Value 'authorization_code' is not a valid choice.\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                clientID: String(repeating: "c", count: 256),
                clientSecret: String(repeating: "s", count: 256)),
            expected: .failure([
                "Please correct the following errors:",
                " - client_id: ['Ensure this value has at most 255 characters (it has 256).']",
                " - client_secret: ['Ensure this value has at most 255 characters (it has 256).']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: " 12 "),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['user instance with id 12 is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: "+0001"),
            expected: .success(secretPrinted: true)),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: "1_000"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['user instance with id 1000 is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: "99999999999"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['user instance with id 99999999999 is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: "-3"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['user instance with id -3 is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: "\u{661}\u{662}"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['user instance with id 12 is not a valid choice.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: "1__0"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['\u{201c}1__0\u{201d} value must be an integer.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                user: "1.5"),
            expected: .failure([
                "Please correct the following errors:",
                " - user: ['\u{201c}1.5\u{201d} value must be an integer.']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "openid-hybrid"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: ['redirect_uris cannot be empty with grant_type openid-hybrid']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "implicit",
                redirectURIs: "   "),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: ['redirect_uris cannot be empty with grant_type implicit']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                redirectURIs: "https://*.example.com/cb http://[::1]/cb https://example.com:99999/x http://127.0.0.1:8080/cb"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: [\"redirect uri URI validation error. ['Enter a valid URL.']: https://*.example.com/cb\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                redirectURIs: "https://[::1/cb https://[1.2.3.4]/ https://[zz]/ https://[v1.x]/ https://[::1]]/ https://user@/x https://:80/x"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: ['redirect uri URI validation error. Invalid IPv6 URL: https://[::1/cb', 'redirect uri URI validation error. An IPv4 address cannot be in brackets: https://[1.2.3.4]/', \"redirect uri URI validation error. 'zz' does not appear to be an IPv4 or IPv6 address: https://[zz]/\", \"redirect uri URI validation error. ['Enter a valid URL.']: https://[v1.x]/\", \"redirect uri URI validation error. ['Enter a valid URL.']: https://[::1]]/\", \"redirect uri URI validation error. ['Enter a valid URL.']: https://user@/x\", \"redirect uri URI validation error. ['Enter a valid URL.']: https://:80/x\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                redirectURIs: "https://exa\u{2100}mple.com/ https://\u{e9}.example/ https://\u{e9}/ https://xn--e-ucs.com/ HTTPS://Example.COM/ x https://-a.com/ https://a-.com/x ftp://a.com/ myapp:/cb myapp://cb"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: [\"redirect uri URI validation error. netloc 'exa\u{2100}mple.com' contains invalid characters under NFKC normalization: https://exa\u{2100}mple.com/\", \"redirect uri URI validation error. ['Enter a valid URL.']: https://\u{e9}/\", 'redirect uri URI Validation error. invalid_scheme: x', \"redirect uri URI validation error. ['Enter a valid URL.']: https://-a.com/\", 'redirect uri URI Validation error. invalid_scheme: ftp://a.com/', 'redirect uri URI Validation error. invalid_scheme: myapp:/cb', 'redirect uri URI Validation error. invalid_scheme: myapp://cb']",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                redirectURIs: "https://example.com/cb? https://ex.com/cb?a#b https://ex.com# https://a.b.c.d.e/ https://1.2.3.256/ https://[fe80::1%25eth0]/ https://[::ffff:1.2.3.4]:80/x"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: ['redirect uri URI validation error. fragment not allowed: https://ex.com/cb?a#b', 'redirect uri URI validation error. fragment not allowed: https://ex.com#', \"redirect uri URI validation error. ['Enter a valid URL.']: https://[fe80::1%25eth0]/\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                redirectURIs: "https://" + String(repeating: "a", count: 250) + ".com/ https://" + String(repeating: "a", count: 64) + ".com/ https://a.b/ https://a.bb/ https://\u{e9}\u{e9}.\u{e9}\u{e9}/ \u{1}https://a.com/"),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: [\"redirect uri URI validation error. ['Enter a valid URL.']: https://" + String(repeating: "a", count: 250) + ".com/\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "password",
                redirectURIs: "https://" + String(repeating: "a", count: 2050)),
            expected: .failure([
                "Please correct the following errors:",
                " - redirect_uris: [\"redirect uri URI validation error. ['Enter a valid URL.']: https://" + String(repeating: "a", count: 2050) + "\"]",
            ])),
        DOTObservation(
            request: CreateApplicationRequest(
                clientType: "confidential",
                authorizationGrantType: "client-credentials",
                clientSecret: "scrypt",
                name: "n1"),
            expected: .success(secretPrinted: false)),
    ]
}
