import Foundation

/// `../shared/corpora`, beside the package (CI and a fresh clone put it there).
enum Corpus {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpora")
    }

    /// Every archive of the corpus (tar, zip, tar.bz2), by path relative to the corpus.
    static func archives() -> [String] {
        let all = FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String] ?? []
        return all.filter { $0.hasSuffix(".tar") || $0.hasSuffix(".zip") || $0.hasSuffix(".tar.bz2") }.sorted()
    }

    /// Every line of the traversal payload lists, `{FILE}` made `etc/passwd`, without repeats.
    static func traversalPayloads() throws -> [String] {
        let directory = root.appendingPathComponent("payloadsallthethings")
        let files = (FileManager.default.enumerator(atPath: directory.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".txt") }
        var seen = Set<String>()
        var payloads: [String] = []
        for file in files.sorted() {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .isoLatin1)
            for line in text.split(whereSeparator: \.isNewline) {
                let payload = line.replacingOccurrences(of: "{FILE}", with: "etc/passwd")
                if seen.insert(payload).inserted { payloads.append(payload) }
            }
        }
        return payloads
    }
}
