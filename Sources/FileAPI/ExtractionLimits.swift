/// Caps on one archive upload, so a bomb is stopped early (defaults from the contract).
public struct ExtractionLimits: Sendable {
    /// Bytes extracted in all (declared sizes count before any byte is written).
    public var maxBytes: Int64 = 4 << 30
    public var maxEntries = 500_000
    /// Uncompressed to compressed, for any entry over `ratioThreshold` bytes.
    public var maxRatio: Double = 200
    public var ratioThreshold: Int64 = 16 << 20

    public init() {}
}

/// What an archive upload did.
public struct ExtractionReport: Sendable {
    public struct Skipped: Sendable, Equatable {
        public let name: String
        public let reason: String
    }

    /// Entries written (files, directories, links).
    public var extracted = 0
    public var skipped: [Skipped] = []
    /// Bytes of file content written.
    public var bytes: Int64 = 0
}
