import FileAPI
import Hummingbird
import NIOPosix

/// A response body of `count` bytes of an open file from `start`, read on the thread pool in
/// 256 KiB blocks as the client takes them. Exactly `count` bytes go out (the length was
/// promised): a file that shrank meanwhile is padded with zeros.
enum FileBody {
    static func body(_ file: FileDescriptor, start: Int64 = 0, count: Int64, threadPool: NIOThreadPool = .singleton) -> ResponseBody {
        ResponseBody(contentLength: Int(count)) { writer in
            var offset = start
            let end = start + count
            while offset < end {
                let want = Int(min(Int64(1 << 18), end - offset))
                let at = offset
                let buffer = try await threadPool.runIfActive { () -> ByteBuffer in
                    var buffer = ByteBuffer()
                    let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { pointer in
                        max(0, pread(file.raw, pointer.baseAddress!, want, off_t(at)))
                    }
                    if read < want { buffer.writeRepeatingByte(0, count: want - read) }
                    return buffer
                }
                try await writer.write(buffer)
                offset += Int64(want)
            }
            try await writer.finish(nil)
        }
    }
}
