import PythonCompat

/// DOT's `ValidationError.message_dict` for a new application: messages per field, fields in the order
/// Django inserted them (field checks in model field order, then `clean()`, then the uniqueness check).
public struct ApplicationValidationErrors: Sendable, Hashable {
    /// One field's messages.
    public struct Field: Sendable, Hashable {
        /// The model field name, e.g. `redirect_uris`.
        public var name: String
        /// DOT's messages, in order.
        public var messages: [String]
    }

    /// The fields with errors, in DOT's order.
    public private(set) var fields: [Field] = []

    /// No errors.
    public init() {}

    /// True when validation passed.
    public var isEmpty: Bool { fields.isEmpty }

    /// The messages for one field (empty when it has none).
    public subscript(field: String) -> [String] {
        fields.first { $0.name == field }?.messages ?? []
    }

    /// Appends `message` to `field`, adding the field at the end if new (`update_error_dict`).
    mutating func append(_ message: String, to field: String) {
        if let index = fields.firstIndex(where: { $0.name == field }) {
            fields[index].messages.append(message)
        } else {
            fields.append(Field(name: field, messages: [message]))
        }
    }

    /// The stdout lines `createapplication` prints: `Please correct the following errors:` then
    /// ` - <field>: <Python str() of the message list>` per field.
    public var outputLines: [String] {
        ["Please correct the following errors:"] + fields.map { " - \($0.name): \(PythonString.listRepr($0.messages))" }
    }
}
