/// Constant-time comparison, as Python's `secrets.compare_digest` on UTF-8 bytes.
enum ConstantTime {
    /// True iff both strings have the same UTF-8 bytes. The time depends only on the lengths.
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        // Like CPython's _tscmp: with different lengths compare `right` with itself, then fail.
        let other = left.count == right.count ? left : right
        var difference: UInt8 = left.count == right.count ? 0 : 1
        for index in right.indices {
            difference |= other[index] ^ right[index]
        }
        return difference == 0
    }
}
