#if canImport(Glibc)
import Glibc
#endif

/// Copies a regular file's data without filling its holes: a file of a terabyte of holes in
/// a small workspace stays a few blocks wherever it is copied (a deployment's site), instead
/// of writing a terabyte of zeros to the host's disk.
enum SparseCopy {
    /// lseek(2) whences Glibc hides from Swift without _GNU_SOURCE (Linux values).
    static let seekData: Int32 = 3
    static let seekHole: Int32 = 4

    /// Copies `input` to `output` (empty, opened for writing): each data extent (`SEEK_DATA` /
    /// `SEEK_HOLE`) read and written at its offset, then the size set with `ftruncate`. Reads
    /// stop at the size `input` had when the copy began, or sooner if it shrinks. Answers 0 or
    /// an errno.
    static func copy(from input: Int32, to output: Int32, buffer: inout [UInt8]) -> Int32 {
        var info = stat()
        guard fstat(input, &info) == 0 else { return errno }
        let size = info.st_size
        var offset: off_t = 0
        while offset < size {
            var start = lseek(input, offset, Self.seekData)
            if start < 0 {
                if errno == ENXIO { break }  // only a hole is left
                start = offset  // no SEEK_DATA here: everything is data
            }
            var end = lseek(input, start, Self.seekHole)
            if end < 0 || end > size { end = size }
            var position = start
            while position < end {
                let wanted = min(buffer.count, Int(end - position))
                let count = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress!, wanted, position) }
                if count < 0 && errno == EINTR { continue }
                if count < 0 { return errno }
                if count == 0 { return ftruncate(output, position) == 0 ? 0 : errno }  // shrank under us
                var written = 0
                while written < count {
                    let step = buffer.withUnsafeBytes { pwrite(output, $0.baseAddress! + written, count - written, position + off_t(written)) }
                    if step < 0 && errno == EINTR { continue }
                    guard step > 0 else { return step < 0 ? errno : EIO }
                    written += step
                }
                position += off_t(count)
            }
            offset = end
        }
        return ftruncate(output, size) == 0 ? 0 : errno
    }
}
