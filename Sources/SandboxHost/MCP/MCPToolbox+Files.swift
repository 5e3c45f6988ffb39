import FileAPI
import Foundation
import MCP
import SandboxRuntime
#if canImport(Glibc)
import Glibc
#endif

/// read_file, write_file, list_files, search_files: the Files routes, on the workspace through
/// `WorkspacePath` and `WorkspaceRoot` (fd walks, never by path), off the cooperative pool:
/// reads on the shared thread pool, writes on a thread of their own (as `FilesController`).
extension MCPToolbox {
    /// The most read_file answers: a text a model can take in, and one result well under the
    /// 1 MiB an SSE event of a client may hold.
    static let readBytes: Int64 = 256 << 10
    /// list_files and search_files answers, for the same reasons.
    static let listLimits = ResponseLimits(maxEntries: 1_000, maxBytes: 256 << 10)
    static let searchResults = 200

    /// The caller's sandbox, its workspace opened, and the argument `path` (default /workspace).
    private func target(_ arguments: MCPArguments, _ caller: Caller, requirePath: Bool)
        async throws -> (record: SandboxRecord, root: WorkspaceRoot, path: WorkspacePath) {
        let record = try await ownedSandbox(arguments, caller)
        let raw = requirePath ? try arguments.requiredString("path") : try arguments.string("path") ?? ""
        let path = try WorkspacePath(raw)
        let (workspaces, projectID) = (services.workspaces, record.projectID)
        let location = workspaces.path(projectID: projectID)
        let root = try await threadPool.runIfActive {
            try workspaces.ensureVolume(projectID: projectID)
            return try WorkspaceRoot(path: location)
        }
        services.runtime.touch(record.id)
        return (record, root, path)
    }

    struct FileText: Encodable, Sendable {
        let path: String
        let size: Int64
        let content: String
    }

    func readFile(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let (_, root, path) = try await target(arguments, caller, requirePath: true)
        let limit = Self.readBytes
        let bytes = try await threadPool.runIfActive { () -> [UInt8] in
            switch try root.readWhole(path, maxBytes: Int64(limit)) {
            case .bytes(let bytes): return bytes
            case .tooLarge(let size):
                throw HostError(.payloadTooLarge, "\(path) is \(size) bytes; read_file reads up to \(limit): use run_command (head, tail, sed -n, grep)")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw HostError(.unprocessable, "\(path) is not UTF-8 text; use run_command (e.g. base64 or xxd)")
        }
        return try MCPToolResult.success(FileText(path: path.description, size: Int64(bytes.count), content: text), text: text)
    }

    struct Written: Encodable, Sendable {
        let path: String
        let size: Int64
    }

    /// `PUT …/files/content`: the host's reserve checked, the project's budget, an atomic write.
    func writeFile(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let content = try arguments.string("content") ?? { throw HostError(.unprocessable, "argument 'content' is required") }()
        let (record, root, path) = try await target(arguments, caller, requirePath: true)
        let budget = WriteBudget(
            configuration: services.configuration, staging: services.workspaces.stagingPath(projectID: record.projectID),
            usesDiskImages: services.workspaces.usesDiskImages)
        let size = try await DedicatedThread.run("mcp file write") { try budget.writeWhole(Array(content.utf8), to: path, in: root) }
        return try MCPToolResult.success(Written(path: path.description, size: size))
    }

    struct FilesListed: Encodable, Sendable {
        struct Entry: Encodable, Sendable {
            let name: String
            let path: String
            let is_dir: Bool
            let size: Int64
            let mod_time: String
        }
        let path: String
        let files: [Entry]
        let truncated: Bool
    }

    func listFiles(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let (_, root, path) = try await target(arguments, caller, requirePath: false)
        let limits = Self.listLimits
        let (entries, truncated) = try await threadPool.runIfActive { try root.list(path, limits: limits) }
        return try MCPToolResult.success(FilesListed(path: path.description, files: entries.map {
            FilesListed.Entry(
                name: $0.name, path: $0.path, is_dir: $0.isDirectory, size: $0.size,
                mod_time: Timestamp.iso8601(seconds: $0.modificationTime))
        }, truncated: truncated))
    }

    struct Found: Encodable, Sendable {
        struct Match: Encodable, Sendable {
            let path: String
            let line: Int
            let text: String
        }
        let matches: [Match]
        let truncated: Bool
    }

    /// `GET …/files/search`, with the route's limits (time, bytes read, depth) and fewer results.
    func searchFiles(_ arguments: MCPArguments, _ caller: Caller) async throws -> CallTool.Result {
        let query = try arguments.requiredString("query")
        guard !query.utf8.contains(0), query.utf8.count <= 1000 else { throw HostError(.validation, "the query is not acceptable") }
        let glob = try arguments.string("glob").flatMap { $0.isEmpty ? nil : $0 }
        let (_, root, path) = try await target(arguments, caller, requirePath: false)
        let configuration = services.configuration
        var options = SearchOptions(query: query, glob: glob)
        options.maxResults = min(Self.searchResults, configuration.responseLimits.maxEntries)
        options.maxResponseBytes = min(Self.listLimits.maxBytes, configuration.responseLimits.maxBytes)
        options.maxDepth = configuration.maxWalkDepth
        options.timeBudget = configuration.searchTimeBudget
        options.maxBytesRead = configuration.searchMaxBytes
        let searching = options
        let result = try await searches.run { try root.search(path, searching) }
        return try MCPToolResult.success(Found(
            matches: result.matches.map { Found.Match(path: $0.path, line: $0.line, text: $0.text) }, truncated: result.truncated))
    }
}
