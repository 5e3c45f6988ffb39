import FileAPI
import NIOCore

/// `GET …/files/tree` as JSON, written straight into a buffer: a workspace of 20,000 files is one
/// walk and one pass here, not a tree of `Encodable` containers (several times slower).
enum TreeJSON {
    static func encode(_ tree: Tree) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(tree.totalFiles * 96 + 256)
        buffer.writeString("{\"basePath\":")
        writeString(tree.basePath, to: &buffer)
        buffer.writeString(",\"totalFiles\":\(tree.totalFiles),\"truncated\":\(tree.truncated),\"tree\":")
        writeNodes(tree.nodes, to: &buffer)
        buffer.writeString("}")
        return buffer
    }

    /// The nodes and their children, depth first with a stack of its own: no recursion, however
    /// deep the tree.
    private static func writeNodes(_ nodes: [TreeNode], to buffer: inout ByteBuffer) {
        var lists: [(nodes: [TreeNode], next: Int)] = [(nodes, 0)]
        buffer.writeInteger(UInt8(ascii: "["))
        while let top = lists.indices.last {
            guard lists[top].next < lists[top].nodes.count else {
                lists.removeLast()
                buffer.writeInteger(UInt8(ascii: "]"))
                // The list closed was the children of the node still open one list up.
                if !lists.isEmpty { buffer.writeInteger(UInt8(ascii: "}")) }
                continue
            }
            let node = lists[top].nodes[lists[top].next]
            lists[top].next += 1
            if lists[top].next > 1 { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeString("{\"name\":")
            writeString(node.name, to: &buffer)
            buffer.writeString(",\"path\":")
            writeString(node.path, to: &buffer)
            buffer.writeString(node.isDirectory ? ",\"type\":\"directory\"" : ",\"type\":\"file\"")
            if node.isSymlink { buffer.writeString(",\"symlink\":true") }
            if let size = node.size { buffer.writeString(",\"size\":\(size)") }
            if node.heavy { buffer.writeString(",\"heavy\":true") }
            if let children = node.children {
                buffer.writeString(",\"children\":[")
                lists.append((children, 0))
            } else {
                buffer.writeInteger(UInt8(ascii: "}"))
            }
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped. Most names need
    /// none, so the bytes are scanned first and copied in one go.
    static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        var string = string
        string.makeContiguousUTF8()
        string.utf8.withContiguousStorageIfAvailable { bytes in
            buffer.writeInteger(UInt8(ascii: "\""))
            var plainStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[plainStart..<index]))
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                default:
                    let hex = String(byte, radix: 16)
                    buffer.writeString("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                }
                plainStart = index + 1
            }
            buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[plainStart...]))
            buffer.writeInteger(UInt8(ascii: "\""))
        }
    }
}
