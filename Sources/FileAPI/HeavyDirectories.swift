/// Directories the tree, search and download leave undescended unless asked (`all=true`):
/// dependencies, build output and caches, per the contract.
public enum HeavyDirectories {
    public static let names: Set<String> = [
        "node_modules", ".git", ".next", "dist", "build", ".cache", "__pycache__", ".venv", "target",
    ]

    public static func contains(_ name: String) -> Bool { names.contains(name) }
}
