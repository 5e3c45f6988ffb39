/// Caps on one `multipart/form-data` upload, beside its byte cap (`maxUploadBytes`). Each file
/// part is a staged file with an open descriptor until the whole body is in, so a form of
/// thousands of empty parts costs descriptors and inodes without costing bytes.
public struct MultipartLimits: Sendable {
    /// File parts in one form (`SANDBOX_HOST_MULTIPART_MAX_FILES`); 413 beyond it. Many files
    /// at once belong in an archive upload, which extracts without a descriptor per file.
    public var maxFiles = 1_000
    /// Every other part: text fields and parts without a name (`SANDBOX_HOST_MULTIPART_MAX_FIELDS`).
    public var maxFields = 100
    /// File parts staged by all uploads at once (`SANDBOX_HOST_MULTIPART_MAX_STAGED_FILES`); a
    /// form that would go beyond is 429 (retry later). A fifth of the descriptor limit.
    public var maxStagedFiles = MultipartLimits.defaultMaxStagedFiles()

    public init() {}

    static func defaultMaxStagedFiles() -> Int {
        max(256, min(10_000, DescriptorLimit.soft / 5))
    }
}
