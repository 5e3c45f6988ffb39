import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loop devices backing the projects' disk images (`/dev/loopN` over a file).
///
/// Attached auto-clearing: a device detaches itself once its file system is unmounted and the
/// last descriptor closes, so a host killed between attach and mount leaves nothing bound.
enum LoopDevice {
    /// Attaches `image` to a free loop device; answers the device's path and an open descriptor
    /// of it, which the caller closes once the file system is mounted (or failed to mount).
    /// The caller makes sure the image is not attached already (one file system on two devices
    /// corrupts it): `ProjectVolumes` attaches only what is not mounted at its mount point, and
    /// its start sweep detaches every other device over its images. Scanning sysfs here instead
    /// would cost O(loop devices) per project creation.
    static func attach(image: String) throws -> (device: String, descriptor: Int32) {
        let file = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        guard file >= 0 else { throw RuntimeFailure.system("open \(image)", errno) }
        defer { close(file) }
        var name = [CChar](repeating: 0, count: 64)
        let name64 = String(image.suffix(63))
        let fd = name.withUnsafeMutableBufferPointer { buffer in
            csb_loop_attach(file, name64, buffer.baseAddress, buffer.count)
        }
        guard fd >= 0 else { throw RuntimeFailure.system("attach \(image) to a loop device", -fd) }
        let device = String(cString: name)
        return (device, fd)
    }

    /// Detaches `device` (`LOOP_CLR_FD`); a device still mounted detaches when unmounted.
    static func detach(_ device: String) throws {
        let rc = csb_loop_detach(device)
        guard rc == 0 || rc == -ENXIO else { throw RuntimeFailure.system("detach \(device)", -rc) }
    }

    struct Attached: Equatable {
        let device: String
        /// The backing file's path now, without the kernel's " (deleted)" mark.
        let backingFile: String
        let deleted: Bool
    }

    /// Every bound loop device and its backing file, from sysfs (bounded by the devices the
    /// kernel has, not by anything a tenant controls).
    static func attached() -> [Attached] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        return names.filter { $0.hasPrefix("loop") }.sorted().compactMap { name in
            guard let raw = try? String(contentsOfFile: "/sys/block/\(name)/loop/backing_file", encoding: .utf8) else { return nil }
            var path = raw.hasSuffix("\n") ? String(raw.dropLast()) : raw
            let deleted = path.hasSuffix(" (deleted)")
            if deleted { path = String(path.dropLast(" (deleted)".count)) }
            return Attached(device: "/dev/" + name, backingFile: path, deleted: deleted)
        }
    }
}
