import FileAPI
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct WorkspacePathTests {
    @Test(arguments: [
        ("src/app.ts", "src/app.ts"), ("/workspace/src/app.ts", "src/app.ts"), ("./src/app.ts", "src/app.ts"),
        ("src//./app.ts", "src/app.ts"), ("/workspace", "."), ("/workspace/", "."), ("", "."), (".", "."),
        ("a/../b", "b"), ("a/b/../../c/", "c"), ("//workspace//x", "x"), ("..foo/bar..", "..foo/bar.."),
        ("workspace/x", "workspace/x"), ("dir with space/ünïcode ✓", "dir with space/ünïcode ✓"),
    ])
    func acceptedPathsNormalise(_ raw: String, _ expected: String) throws {
        #expect(try WorkspacePath(raw).relative == expected)
    }

    @Test(arguments: [
        "/etc/passwd", "..", "../x", "/workspace/../etc/passwd", "a/../../x", "/", "/workspacex/y", "/tmp/../workspace",
        "a\u{0}b", String(repeating: "a/", count: 2100), String(repeating: "n", count: 256),
    ])
    func refusedPathsSayWhy(_ raw: String) {
        #expect(throws: FileAPIError.self) { try WorkspacePath(raw) }
        do { _ = try WorkspacePath(raw) } catch { #expect((error as? FileAPIError)?.kind == .invalidPath) }
    }

    @Test func descriptionIsTheSandboxView() throws {
        #expect(try WorkspacePath("./a/b").description == "/workspace/a/b")
        #expect(try WorkspacePath("").description == "/workspace")
    }
}

/// The kernel half: symlinks in the workspace never lead out, however they are written.
@Suite struct WorkspaceRootTests {
    /// `<tmp>/outside/secret.txt` beside `<tmp>/ws`, and a workspace full of links that try to leave.
    final class Fixture {
        let base: String
        var workspace: String { base + "/ws" }
        var secret: String { base + "/outside/secret.txt" }

        init() throws {
            base = FileManager.default.temporaryDirectory.appendingPathComponent("ws-test-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: base + "/ws/src", withIntermediateDirectories: true)
            try "SECRET".write(toFile: secret, atomically: true, encoding: .utf8)
            try "inside".write(toFile: base + "/ws/src/app.ts", atomically: true, encoding: .utf8)
            let links = [
                ("abs", secret), ("rel", "../outside/secret.txt"), ("root", "/"), ("up", "../../../../../../../"),
                ("etc", "/etc"), ("self", "/proc/self/root"), ("loop", "loop"), ("src/back", "../src/app.ts"),
                ("ws", "/workspace/src"),
            ]
            for (name, target) in links {
                try FileManager.default.createSymbolicLink(atPath: base + "/ws/" + name, withDestinationPath: target)
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: base) }

        /// Reads `raw` through the workspace root; nil when refused or missing.
        func read(_ raw: String) -> String? {
            guard let path = try? WorkspacePath(raw), let root = try? WorkspaceRoot(path: workspace),
                  let fd = try? root.open(path, flags: O_RDONLY) else { return nil }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            return count >= 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
        }
    }

    @Test func linksInsideResolveInsideAndLinksOutFindNothing() throws {
        let fixture = try Fixture()
        #expect(fixture.read("src/app.ts") == "inside")
        #expect(fixture.read("/workspace/src/back") == "inside", "a relative link inside works")
        for raw in ["abs", "rel", "root/etc/passwd", "up/etc/passwd", "etc/passwd", "self/etc/passwd", "loop", "root" + fixture.secret] {
            #expect(fixture.read(raw) == nil, "\(raw) reached something")
        }
    }

    /// `../shared/corpora/payloadsallthethings` beside the package (CI has it; a clone alone does
    /// not, and then `FileSafetyTests` runs the generated payloads of the same classes).
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpora/payloadsallthethings")

    @Test(.enabled(if: FileManager.default.fileExists(atPath: corpus.path), "the shared corpus is not beside this clone"))
    func everyTraversalPayloadOfTheCorpusStaysInside() throws {
        let fixture = try Fixture()
        let hostPasswd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
        let corpus = Self.corpus
        let files = (FileManager.default.enumerator(atPath: corpus.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".txt") }
        try #require(!files.isEmpty, "corpus not found at \(corpus.path)")
        var tried = 0, reachedInside = 0
        for file in files {
            let text = try String(contentsOf: corpus.appendingPathComponent(file), encoding: .isoLatin1)
            for line in text.split(whereSeparator: \.isNewline) {
                // Sent as a query parameter, a payload is percent-decoded once by the server.
                let payload = line.replacingOccurrences(of: "{FILE}", with: "etc/passwd")
                let decoded = payload.removingPercentEncoding ?? payload
                for raw in [payload, decoded] {
                    tried += 1
                    guard let content = fixture.read(raw) else { continue }
                    reachedInside += 1
                    #expect(content != hostPasswd && content != "SECRET", "\(raw) read a file outside the workspace")
                }
            }
        }
        #expect(tried > 20_000)
        // The only file these payloads can name is none of the workspace's: nothing is read.
        #expect(reachedInside == 0)
    }
}
