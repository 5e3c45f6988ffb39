/// What `WorkspaceRoot.readWhole` found: the file's bytes, or that it is larger than asked.
public enum WholeFile: Sendable {
    case bytes([UInt8])
    case tooLarge(size: Int64)
}
