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
        buffer.writeString(",\"totalFiles\":\(tree.totalFiles),\"tree\":")
        writeNodes(tree.nodes, to: &buffer)
        buffer.writeString("}")
        return buffer
    }

    private static func writeNodes(_ nodes: [TreeNode], to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, node) in nodes.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeString("{\"name\":")
            writeString(node.name, to: &buffer)
            buffer.writeString(",\"path\":")
            writeString(node.path, to: &buffer)
            buffer.writeString(node.isDirectory ? ",\"type\":\"directory\"" : ",\"type\":\"file\"")
            if node.isSymlink { buffer.writeString(",\"symlink\":true") }
            if let size = node.size { buffer.writeString(",\"size\":\(size)") }
            if node.heavy { buffer.writeString(",\"heavy\":true") }
            if let children = node.children {
                buffer.writeString(",\"children\":")
                writeNodes(children, to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var plainStart = string.utf8.startIndex
        let utf8 = string.utf8
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                buffer.writeBytes(utf8[plainStart..<index])
                switch byte {
                case UInt8(ascii: "\""): buffer.writeString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeString("\\\\")
                case 0x0A: buffer.writeString("\\n")
                case 0x0D: buffer.writeString("\\r")
                case 0x09: buffer.writeString("\\t")
                default:
                    let hex = String(byte, radix: 16)
                    buffer.writeString("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                }
                plainStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        buffer.writeBytes(utf8[plainStart..<utf8.endIndex])
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
