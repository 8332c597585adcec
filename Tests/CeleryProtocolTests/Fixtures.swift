import Foundation
import CeleryProtocol

/// Messages captured from Celery 5.7's `send_task` (read with `LRANGE` before any worker ran;
/// docs/architecture.md#the-message-envelope), as the single-line JSON stored in Redis
/// (`json.dumps(json.loads(x)) == x` holds).
enum Fixtures {
    static let messageA = #"{"body": "W1sxLCAidHdvIl0sIHsiZHJ5X3J1biI6IHRydWV9LCB7ImNhbGxiYWNrcyI6IG51bGwsICJlcnJiYWNrcyI6IG51bGwsICJjaGFpbiI6IG51bGwsICJjaG9yZCI6IG51bGx9XQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "oauth2_provider.cleartokens", "id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40", "shadow": null, "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40", "parent_id": null, "argsrepr": "[1, 'two']", "kwargsrepr": "{'dry_run': True}", "origin": "gen6811@vm", "ignore_result": null, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, "properties": {"correlation_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40", "reply_to": "827bca87-3058-3e4a-a00d-27ab54e7f022", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "9e8c6cb2-f26e-488d-854d-5ae87b590eea"}}"#

    static let messageB = #"{"body": "W1siY29uZmlkZW50aWFsIiwgImF1dGhvcml6YXRpb24tY29kZSJdLCB7Im5hbWUiOiAic3ZjIn0sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "oauth2_provider.createapplication", "id": "852feafa-4d26-41e4-869e-ed810c4b7557", "shadow": null, "eta": "2026-11-30T01:56:30.690517+00:00", "expires": "2026-11-30T01:58:00.690517+00:00", "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": "852feafa-4d26-41e4-869e-ed810c4b7557", "parent_id": null, "argsrepr": "['confidential', 'authorization-code']", "kwargsrepr": "{'name': 'svc'}", "origin": "gen6811@vm", "ignore_result": null, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, "properties": {"correlation_id": "852feafa-4d26-41e4-869e-ed810c4b7557", "reply_to": "827bca87-3058-3e4a-a00d-27ab54e7f022", "delivery_mode": 2, "expiration": "120000", "delivery_info": {"exchange": "", "routing_key": "oauth"}, "priority": 5, "body_encoding": "base64", "delivery_tag": "64956f7d-b84b-43b4-ae0c-7f4f70d883bc"}}"#

    static let decodedBodyA = #"[[1, "two"], {"dry_run": true}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func json(_ s: String) -> JSONValue {
        switch JSONValue.parse(s) {
        case .success(let v): return v
        case .failure(let e): preconditionFailure("fixture is not JSON: \(e)")
        }
    }

    static func date(_ s: String) -> Date {
        guard let d = CeleryTimestamp.parse(s) else { preconditionFailure("bad fixture date \(s)") }
        return d
    }

    /// A minimal envelope (headers `{lang, task, id}` only, which a Celery 5.7 worker accepts:
    /// docs/architecture.md#the-message-envelope) with the given pieces replaced.
    static func envelope(
        body: JSONValue = .string("W1tdLCB7fSwgbnVsbF0="),  // base64 of [[], {}, null]
        contentType: JSONValue? = "application/json",
        headers: JSONValue = ["lang": "py", "task": "t", "id": "id-1"],
        properties: JSONValue = [
            "body_encoding": "base64", "delivery_tag": "tag-1",
            "delivery_info": ["exchange": "", "routing_key": "celery"],
        ]
    ) -> [UInt8] {
        var object: JSONObject = ["body": body]
        if let contentType { object["content-type"] = contentType }
        object["headers"] = headers
        object["properties"] = properties
        return JSONValue.object(object).serialized()
    }

    /// base64 of a JSON body.
    static func base64Body(_ json: String) -> JSONValue {
        .string(Data(json.utf8).base64EncodedString())
    }
}
