import Foundation

/// `../shared/corpora`, beside the package (CI puts it there; a clone on its own has none), and
/// the hostile inputs the suite makes itself, so that a clone with nothing beside it still runs
/// every attack class (the classes are those of the corpus's README).
enum Corpus {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpora")
    }

    static var isPresent: Bool { FileManager.default.fileExists(atPath: root.path) }

    /// Every archive of the corpus (tar, zip, tar.bz2), by path relative to the corpus.
    static func archives() -> [String] {
        let all = FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? []
        return all.filter { $0.hasSuffix(".tar") || $0.hasSuffix(".zip") || $0.hasSuffix(".tar.bz2") }.sorted()
    }

    /// The archive `name` of the corpus; without the corpus, one made here with the same
    /// hostile entries (for the names `generated` knows).
    static func archive(_ name: String) throws -> Data {
        if isPresent { return try Data(contentsOf: root.appendingPathComponent(name)) }
        guard let script = generated[name] else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: name]) }
        return try Subprocess.run("/usr/bin/python3", ["-c", preamble + script], mergeStandardError: false).output
    }

    private static let preamble = """
    import io, sys, tarfile, zipfile
    buf = io.BytesIO()
    def add(tar, name, kind=tarfile.REGTYPE, data=b"x", link="", mode=0o644, dev=(0, 0)):
        info = tarfile.TarInfo(name); info.type = kind; info.linkname = link; info.mode = mode
        info.devmajor, info.devminor = dev
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    """

    private static let generated: [String: String] = [
        "google-safearchive/tar/traverse.tar": """
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            add(tar, "/gopher.txt"); add(tar, "../todo.txt")
        sys.stdout.buffer.write(buf.getvalue())
        """,
        "google-safearchive/tar/specialfiles.tar": """
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            add(tar, "file"); add(tar, "fifo", tarfile.FIFOTYPE); add(tar, "null", tarfile.CHRTYPE, dev=(1, 3))
            add(tar, "sda", tarfile.BLKTYPE, dev=(8, 0)); add(tar, "symlink", tarfile.SYMTYPE, link="file")
            add(tar, "hardlink", tarfile.LNKTYPE, link="file")
        sys.stdout.buffer.write(buf.getvalue())
        """,
        "google-safearchive/tar/specialmodes.tar": """
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            add(tar, "setuid", mode=0o4755); add(tar, "setgid", mode=0o2755); add(tar, "sticky", tarfile.DIRTYPE, mode=0o1777)
        sys.stdout.buffer.write(buf.getvalue())
        """,
        "google-safearchive/zip/symlinks.zip": """
        with zipfile.ZipFile(buf, "w") as z:
            info = zipfile.ZipInfo("passwd"); info.create_system = 3; info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
            info = zipfile.ZipInfo("root"); info.create_system = 3; info.external_attr = (0o120777 << 16)
            z.writestr(info, "/")
            z.writestr("root/poc.txt", "pwned")
        sys.stdout.buffer.write(buf.getvalue())
        """,
        "google-safearchive/tar/traverse-via-links.tar": """
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            add(tar, "linktoroot", tarfile.SYMTYPE, link="/"); add(tar, "linktoroot/root/.bashrc")
            add(tar, "linktoescape", tarfile.SYMTYPE, link="../outside.txt"); add(tar, "linktoescape")
        sys.stdout.buffer.write(buf.getvalue())
        """,
    ]

    /// Every line of the traversal payload lists, `{FILE}` made `etc/passwd`, without repeats,
    /// after the payloads `TraversalPayloads.generated` makes (which run without the corpus too).
    static func traversalPayloads() throws -> [String] {
        var seen = Set<String>()
        var payloads: [String] = []
        for payload in generatedTraversals() where seen.insert(payload).inserted { payloads.append(payload) }
        let directory = root.appendingPathComponent("payloadsallthethings")
        let files = (FileManager.default.enumerator(atPath: directory.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".txt") }
        for file in files.sorted() {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .isoLatin1)
            for line in text.split(whereSeparator: \.isNewline) {
                let payload = line.replacingOccurrences(of: "{FILE}", with: "etc/passwd")
                if seen.insert(payload).inserted { payloads.append(payload) }
            }
        }
        return payloads
    }

    /// Traversal strings in the corpus lists' classes: `..` steps in plain, backslash, percent-,
    /// double- and overlong-UTF-8-encoded forms, repeated 1 to 8 times, toward host files; and
    /// absolute, `file:`, doubled-slash and NUL-suffixed names.
    static func generatedTraversals() -> [String] {
        let steps = ["../", "..\\", "..%2f", "%2e%2e%2f", "%2e%2e/", "..%5c", "%252e%252e%252f", "..%252f", "....//", "..;/",
                     "%c0%ae%c0%ae/", "..%c0%af", ".%2e/", "%2e./", "..//", "..\\/"]
        let targets = ["etc/passwd", "etc/shadow", "root/.bashrc", "proc/self/environ"]
        var payloads: [String] = []
        for step in steps {
            for depth in 1...8 {
                for target in targets { payloads.append(String(repeating: step, count: depth) + target) }
            }
            payloads.append("src/" + String(repeating: step, count: 4) + "etc/passwd%00.png")
        }
        for target in targets {
            payloads += ["/" + target, "//" + target, "file:///" + target, "\\" + target.replacingOccurrences(of: "/", with: "\\"),
                         "%2f" + target.replacingOccurrences(of: "/", with: "%2f"), "/workspace/../" + target,
                         "/workspace/./../../" + target, "./../" + target]
        }
        return payloads
    }
}
