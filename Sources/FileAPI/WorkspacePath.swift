/// A path a client gave for a file in `/workspace`, checked and normalised: the rules of the
/// contract in one place. `src/app.ts`, `/workspace/src/app.ts` and `./src/app.ts` are the same
/// path; `..` may not climb above `/workspace`; any other absolute path, a NUL byte, an empty
/// or over-long name is refused (the HTTP layer answers 400).
///
/// This is the lexical half. The other half is `WorkspaceRoot.open`, where the kernel resolves
/// the result inside the workspace, so symlinks (even ones swapped in mid-request) cannot lead out.
public struct WorkspacePath: Sendable, Hashable, CustomStringConvertible {
    public static let maxBytes = 4096
    public static let maxComponentBytes = 255

    /// Normalised components, none of them empty, `.` or `..`. Empty for `/workspace` itself.
    public let components: [String]

    public init(_ raw: String) throws {
        guard !raw.utf8.contains(0) else { throw FileAPIError.invalidPath("the path contains a NUL byte") }
        guard raw.utf8.count <= Self.maxBytes else { throw FileAPIError.invalidPath("the path is longer than \(Self.maxBytes) bytes") }
        var rest = Substring(raw)
        if rest.hasPrefix("/") {
            let trimmed = rest.drop { $0 == "/" }
            guard trimmed == "workspace" || trimmed.hasPrefix("workspace/") else {
                throw FileAPIError.invalidPath("the path must be inside /workspace")
            }
            rest = trimmed.dropFirst("workspace".count)
        }
        var components: [String] = []
        for component in rest.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".":
                continue
            case "..":
                guard !components.isEmpty else { throw FileAPIError.invalidPath("the path leaves /workspace") }
                components.removeLast()
            default:
                guard component.utf8.count <= Self.maxComponentBytes else {
                    throw FileAPIError.invalidPath("a name in the path is longer than \(Self.maxComponentBytes) bytes")
                }
                components.append(String(component))
            }
        }
        self.components = components
    }

    /// Relative to the workspace directory (`.` for the workspace itself).
    public var relative: String { components.isEmpty ? "." : components.joined(separator: "/") }

    /// As the sandbox sees it.
    public var description: String { components.isEmpty ? "/workspace" : "/workspace/" + components.joined(separator: "/") }

    public var isRoot: Bool { components.isEmpty }
}

extension WorkspacePath {
    /// The path of `name` inside this one; `name` is one directory entry, never `.` or `..`.
    public func appending(_ name: String) -> WorkspacePath { WorkspacePath(components: components + [name]) }

    /// The path one level up; the workspace for the workspace.
    public var parent: WorkspacePath { WorkspacePath(components: Array(components.dropLast())) }

    /// The last component; nil for the workspace itself.
    public var name: String? { components.last }

    /// Whether `other` is this path or inside it.
    public func contains(_ other: WorkspacePath) -> Bool { other.components.starts(with: components) }

    init(components: [String]) { self.components = components }
}
