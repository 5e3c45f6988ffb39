import FileAPI
import Foundation
import HTTPTypes
import Hummingbird
import NIOPosix
import SandboxRuntime

/// The Files section of the contract: uploads (multipart, raw, archive), list, tree, content
/// with ranges, delete, move, search and the streamed archive download. Every path goes through
/// `WorkspacePath` and `WorkspaceRoot`; every blocking call runs off the cooperative pool: reads
/// on the shared thread pool, writes on threads of their own (`write`). The routes
/// work on the workspace directory whether or not the sandbox runs.
struct FilesController {
    /// What the routes use.
    struct Services: Sendable {
        let sandboxes: any SandboxLookup
        /// The download's file name.
        let projects: any ProjectLookup
        let workspaces: any WorkspaceLocating
        let runtime: any SandboxActivity
        /// The limits on uploads, walks, searches and responses.
        let configuration: HostConfiguration

        func ownedSandbox(_ context: AppRequestContext) async throws -> SandboxRecord { try await sandboxes.owned(context) }
    }

    let services: Services
    var threadPool: NIOThreadPool { .singleton }
    /// Searches run here, off the shared pool.
    let searches: SearchPool

    init(services: Services) {
        self.services = services
        searches = SearchPool(threads: services.configuration.searchThreads, queue: services.configuration.searchQueue)
    }

    /// `/api/sandboxes/…`
    var endpoints: RouteCollection<AppRequestContext> {
        RouteCollection(context: AppRequestContext.self)
            .post("{sandbox_id}/files", use: upload)
            .get("{sandbox_id}/files", use: list)
            .delete("{sandbox_id}/files", use: delete)
            .put("{sandbox_id}/files/content", use: put)
            .get("{sandbox_id}/files/content", use: content)
            .post("{sandbox_id}/files/archive", use: uploadArchive)
            .get("{sandbox_id}/files/tree", use: tree)
            .post("{sandbox_id}/files/move", use: move)
            .get("{sandbox_id}/files/search", use: search)
            .get("{sandbox_id}/download-archive", use: downloadArchive)
    }

    /// The caller's sandbox, its workspace root, and the route's `path` (default `/workspace`).
    private func target(_ request: Request, _ context: AppRequestContext, requirePath: Bool = false)
        async throws -> (record: SandboxRecord, root: WorkspaceRoot, path: WorkspacePath) {
        let record = try await services.ownedSandbox(context)
        let raw = request.queryParameters["path"]
        if requirePath && (raw ?? "").isEmpty { throw HostError(.unprocessable, "query parameter 'path' is required") }
        let path = try WorkspacePath(raw ?? "")
        let root = try await openRoot(record)
        services.runtime.touch(record.id)
        return (record, root, path)
    }

    /// The sandbox's workspace, opened on the thread pool (a path lookup may wait on the disk).
    private func openRoot(_ record: SandboxRecord) async throws -> WorkspaceRoot {
        let (workspaces, projectID) = (services.workspaces, record.projectID)
        let path = workspaces.path(projectID: projectID)
        return try await run {
            try workspaces.ensureVolume(projectID: projectID)
            return try WorkspaceRoot(path: path)
        }
    }

    private func run<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await threadPool.runIfActive(body)
    }

    /// Work that writes into a project's volume (an upload's staging, batches and commit, an
    /// extraction, a delete, a move): on a thread of its own per call, not the shared pool. A
    /// write waits for its file system (an fsync, a journal, a frozen or failing disk) as long
    /// as that takes; on the pool, two such waits would hold every file route of every project.
    /// Threads are bounded by the requests in flight (the connection limits).
    private func write<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await DedicatedThread.run("file write", body)
    }

    /// What the project's disk budget still allows: the free space of its volume (a statvfs,
    /// no walk), or without disk images, the workspace quota less a walk's usage. A cheap early
    /// refusal; past it the volume's ENOSPC refuses the write just the same (413).
    /// Refuses first, with 507, when the host's own disk is under its reserve.
    private func spaceLeft(_ record: SandboxRecord, _ root: WorkspaceRoot) async throws -> Int64 {
        let budget = WriteBudget(configuration: services.configuration, staging: staging(record), usesDiskImages: services.workspaces.usesDiskImages)
        return try await run { try budget.spaceLeft(root) }
    }

    /// Uploads to a project are staged on its own volume: they link into place there, and
    /// count against its budget while they arrive.
    private func staging(_ record: SandboxRecord) -> String {
        services.workspaces.stagingPath(projectID: record.projectID)
    }

    private func checkDeclaredLength(_ request: Request) throws {
        let limit = services.configuration.maxUploadBytes
        if let length = request.headers[.contentLength].flatMap(Int64.init), length > limit {
            throw HostError(.payloadTooLarge, "request body is \(length) bytes; the upload limit is \(limit)")
        }
    }

    /// Feeds the request body to `consume` in batches of about 1 MiB, on the thread pool. The
    /// whole body counts toward `maxUploadBytes`, whatever `consume` keeps of it: a chunked body
    /// has no length to refuse up front.
    private func stream(_ request: Request, _ consume: @Sendable @escaping (ByteBuffer) throws -> Void) async throws {
        let limit = services.configuration.maxUploadBytes
        var received: Int64 = 0
        var pending = ByteBuffer()
        for try await chunk in request.body {
            received += Int64(chunk.readableBytes)
            guard received <= limit else {
                throw HostError(.payloadTooLarge, "request body is larger than the upload limit of \(limit) bytes")
            }
            pending.writeImmutableBuffer(chunk)
            if pending.readableBytes >= 1 << 20 {
                let batch = pending
                try await write { try consume(batch) }
                pending.clear()
            }
        }
        if pending.readableBytes > 0 {
            let batch = pending
            try await write { try consume(batch) }
        }
    }

    // MARK: Uploads

    struct UploadedFile: Encodable, Sendable {
        let path: String
        let size: Int64
    }

    struct Uploaded: Encodable, Sendable {
        let status = "success"
        let created = true
        let path: String
        let files: [UploadedFile]
    }

    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Uploaded> {
        let record = try await services.ownedSandbox(context)
        try checkDeclaredLength(request)
        let root = try await openRoot(record)
        services.runtime.touch(record.id)
        let upload = try MultipartUpload(
            contentType: request.headers[.contentType] ?? "", stagingDirectory: staging(record),
            maxBytes: services.configuration.maxUploadBytes, spaceLeft: try await spaceLeft(record, root),
            limits: services.configuration.multipartLimits)
        try await stream(request) { try upload.feed($0) }
        guard !upload.files.isEmpty else { throw HostError(.unprocessable, "the form has no 'file' part") }
        let base = try WorkspacePath(upload.fields["path"] ?? "")
        let files = upload.files
        let placed = try await write { () -> [UploadedFile] in
            let single = files.count == 1 && !(upload.fields["path"] ?? "").isEmpty && !root.isDirectory(base)
            // Every destination is checked before the first is written: a bad name refuses the whole upload.
            let destinations = try files.map { single ? base : try Self.place($0.filename, under: base) }
            return try zip(files, destinations).map { staged, destination in
                try staged.writer.commit(to: destination, in: root)
                return UploadedFile(path: destination.description, size: staged.writer.size)
            }
        }
        return JSONResponse(Uploaded(path: base.description, files: placed))
    }

    /// Where a part named `filename` lands below directory `base`; it may hold subdirectories,
    /// never climb out.
    static func place(_ filename: String, under base: WorkspacePath) throws -> WorkspacePath {
        let trimmed = filename.drop { $0 == "/" }
        guard !trimmed.isEmpty else { throw HostError(.unprocessable, "a file part has no filename") }
        let path = try WorkspacePath(base.relative + "/" + trimmed)
        guard base.contains(path), path != base else {
            throw HostError(.validation, "filename '\(filename.prefix(200))' leaves the target directory")
        }
        return path
    }

    @Sendable func put(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<UploadedFile> {
        let (record, root, path) = try await target(request, context, requirePath: true)
        try checkDeclaredLength(request)
        let (staging, maxBytes, left) = (staging(record), services.configuration.maxUploadBytes, try await spaceLeft(record, root))
        // Creating a file waits on the file system's journal: never on the event loop.
        let writer = try await write { try AtomicFileWriter(stagingDirectory: staging, maxBytes: maxBytes, spaceLeft: left) }
        try await stream(request) { buffer in try buffer.withUnsafeReadableBytes { try writer.write($0) } }
        try await write { try writer.commit(to: path, in: root) }
        return JSONResponse(UploadedFile(path: path.description, size: writer.size))
    }

    struct Extracted: Encodable, Sendable {
        struct Skipped: Encodable, Sendable {
            let name: String
            let reason: String
        }
        let status = "success"
        let path: String
        let extracted: Int
        let skipped: [Skipped]
    }

    /// The body is spooled to an unnamed staging file (so libarchive can seek in a zip), then
    /// extracted; a refused archive leaves nothing behind.
    @Sendable func uploadArchive(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Extracted> {
        let (record, root, path) = try await target(request, context)
        try checkDeclaredLength(request)
        let staging = staging(record)
        let maxBytes = services.configuration.maxUploadBytes
        _ = try await spaceLeft(record, root)  // 507 before spooling when the host is low
        let spool = try await write { try AtomicFileWriter(stagingDirectory: staging, maxBytes: maxBytes, readable: true) }
        try await stream(request) { buffer in try buffer.withUnsafeReadableBytes { try spool.write($0) } }
        guard spool.size > 0 else { throw HostError(.validation, "the body is empty; send a tar, tar.gz or zip archive") }
        let extractor = ArchiveExtractor(
            root: root, stagingDirectory: staging, limits: services.configuration.extractionLimits,
            spaceLeft: try await spaceLeft(record, root))
        let report = try await write { () -> ExtractionReport in
            lseek(spool.descriptor, 0, SEEK_SET)
            return try extractor.extract(archive: spool.descriptor, into: path)
        }
        return JSONResponse(Extracted(
            path: path.description, extracted: report.extracted,
            skipped: report.skipped.map { Extracted.Skipped(name: $0.name, reason: $0.reason) }))
    }

    // MARK: Reading

    struct Listed: Encodable, Sendable {
        struct Entry: Encodable, Sendable {
            let name: String
            let path: String
            let is_dir: Bool
            let is_symlink: Bool
            let size: Int64
            let mod_time: String
            let permissions: String
        }
        let files: [Entry]
        /// Entries were left out: the directory holds more than one answer may.
        let truncated: Bool
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Listed> {
        let (_, root, path) = try await target(request, context)
        let limits = services.configuration.responseLimits
        let (entries, truncated) = try await run { try root.list(path, limits: limits) }
        return JSONResponse(Listed(files: entries.map {
            Listed.Entry(
                name: $0.name, path: $0.path, is_dir: $0.isDirectory, is_symlink: $0.isSymlink, size: $0.size,
                mod_time: Timestamp.iso8601(seconds: $0.modificationTime), permissions: $0.permissions)
        }, truncated: truncated))
    }

    @Sendable func tree(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (_, root, path) = try await target(request, context)
        let query = request.queryParameters
        var depth: Int?
        if let raw = query["depth"], !raw.isEmpty {
            guard let value = Int(raw), value >= 1, value <= 1000 else {
                throw HostError(.unprocessable, "query parameter 'depth' must be a whole number from 1")
            }
            depth = value
        }
        let all = try query.flag("all")
        let levels = depth
        let (maxDepth, limits) = (services.configuration.maxWalkDepth, services.configuration.responseLimits)
        let tree = try await run { try root.tree(path, depth: levels, all: all, maxDepth: maxDepth, limits: limits) }
        let body = try await run { TreeJSON.encode(tree) }
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }

    @Sendable func content(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (_, root, path) = try await target(request, context, requirePath: true)
        let (file, size, modified) = try await run { try root.openForReading(path) }
        var headers: HTTPFields = [
            .contentType: ContentType.forName(path.name ?? ""), .acceptRanges: "bytes",
            .lastModified: Timestamp.httpDate(seconds: modified),
        ]
        var status = HTTPResponse.Status.ok
        var start: Int64 = 0
        var count = size
        switch ByteRange.parse(request.headers[.range], size: size) {
        case .whole:
            break
        case .range(let range):
            status = .partialContent
            start = range.start
            count = range.count
            headers[.contentRange] = "bytes \(range.start)-\(range.end)/\(size)"
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        headers[.contentLength] = String(count)
        return Response(status: status, headers: headers, body: FileBody.body(file, start: start, count: count, threadPool: threadPool))
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

    @Sendable func search(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Found> {
        let (_, root, path) = try await target(request, context)
        let query = request.queryParameters
        guard let text = query["query"], !text.isEmpty else {
            throw HostError(.unprocessable, "query parameter 'query' is required")
        }
        guard !text.utf8.contains(0), text.utf8.count <= 1000 else { throw HostError(.validation, "the query is not acceptable") }
        var options = SearchOptions(query: text, glob: query["glob"].flatMap { $0.isEmpty ? nil : $0 })
        options.ignoreCase = try query.flag("ignore_case")
        options.all = try query.flag("all")
        if let raw = query["limit"] {
            guard let limit = Int(raw), (1...10_000).contains(limit) else {
                throw HostError(.unprocessable, "query parameter 'limit' must be from 1 to 10000")
            }
            options.maxResults = limit
        }
        options.maxResults = min(options.maxResults, services.configuration.responseLimits.maxEntries)
        options.maxResponseBytes = services.configuration.responseLimits.maxBytes
        options.maxDepth = services.configuration.maxWalkDepth
        options.timeBudget = services.configuration.searchTimeBudget
        options.maxBytesRead = services.configuration.searchMaxBytes
        let searching = options
        let result = try await searches.run { try root.search(path, searching) }
        return JSONResponse(Found(
            matches: result.matches.map { Found.Match(path: $0.path, line: $0.line, text: $0.text) }, truncated: result.truncated))
    }

    @Sendable func downloadArchive(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (record, root, path) = try await target(request, context)
        let query = request.queryParameters
        let formatName = query["format"] ?? "zip"
        guard let format = ArchiveFormat(rawValue: formatName == "tgz" ? "tar.gz" : formatName) else {
            throw HostError(.unprocessable, "query parameter 'format' must be zip, tar.gz or tar")
        }
        let writer = ArchiveWriter(
            root: root, path: path, format: format, all: try query.flag("all"), maxDepth: services.configuration.maxWalkDepth)
        try await run { try writer.validate() }
        let identity = try context.requireIdentity()
        let project = try await services.projects.get(id: record.projectID, userID: identity.userID)
        let name = Self.safeFilename(project?.name ?? "project")
        let headers: HTTPFields = [
            .contentType: format.contentType,
            .contentDisposition: "attachment; filename=\"\(name)-code.\(format.fileExtension)\"",
            .cacheControl: "no-store",
        ]
        return Response(status: .ok, headers: headers, body: ArchiveStream.body(writer, writeTimeout: services.configuration.downloadWriteTimeout))
    }

    /// A name safe inside a quoted `filename=`: letters, digits, `.`, `-`, `_`; others become `_`.
    static func safeFilename(_ name: String) -> String {
        let cleaned = String(name.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
                ? Character(scalar) : "_"
        }).prefix(100)
        return cleaned.isEmpty ? "project" : String(cleaned)
    }

    // MARK: Changes

    struct Deleted: Encodable, Sendable {
        let status = "success"
        let deleted = true
        let path: String
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Deleted> {
        let (_, root, path) = try await target(request, context, requirePath: true)
        try await write { try root.delete(path) }
        return JSONResponse(Deleted(path: path.description))
    }

    struct MoveBody: Decodable {
        let from: String
        let to: String
    }

    struct Moved: Encodable, Sendable {
        let status = "success"
        let path: String
    }

    @Sendable func move(_ request: Request, context: AppRequestContext) async throws -> JSONResponse<Moved> {
        let (_, root, _) = try await target(request, context)
        let body = try await request.decodeJSON(as: MoveBody.self, context: context)
        let from = try WorkspacePath(body.from), to = try WorkspacePath(body.to)
        try await write { try root.move(from: from, to: to) }
        return JSONResponse(Moved(path: to.description))
    }
}
