/// Cuts a long tool result to a budget, keeping its head and its tail (where errors and final
/// lines are) and saying in the middle how much was cut.
public enum OutputTruncation {
    public static func cut(_ text: String, maxBytes: Int) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > maxBytes, maxBytes > 200 else { return text }
        let headCount = maxBytes * 6 / 10, tailCount = maxBytes * 4 / 10 - 100
        let head = String(decoding: bytes[..<headCount], as: UTF8.self)
        let tail = String(decoding: bytes[(bytes.count - tailCount)...], as: UTF8.self)
        let marker = "\n\n[… \(bytes.count - headCount - tailCount) bytes cut: the result was \(bytes.count) bytes; first \(headCount) and last \(tailCount) shown …]\n\n"
        return head + marker + tail
    }
}
