/// The `Content-Type` of a file, by its extension (what a dev server or a browser would use).
public enum ContentType {
    static let types: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8", "cjs": "text/javascript; charset=utf-8",
        "json": "application/json", "map": "application/json", "txt": "text/plain; charset=utf-8",
        "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8", "xml": "application/xml",
        "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "ico": "image/x-icon", "avif": "image/avif", "bmp": "image/bmp",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tgz": "application/gzip",
        "tar": "application/x-tar", "wasm": "application/wasm", "mp4": "video/mp4", "webm": "video/webm",
        "mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg",
        "ts": "text/plain; charset=utf-8", "tsx": "text/plain; charset=utf-8", "jsx": "text/plain; charset=utf-8",
        "py": "text/x-python; charset=utf-8", "sh": "text/x-shellscript; charset=utf-8", "yaml": "application/yaml",
        "yml": "application/yaml", "toml": "application/toml", "swift": "text/plain; charset=utf-8",
        "rs": "text/plain; charset=utf-8", "go": "text/plain; charset=utf-8", "c": "text/plain; charset=utf-8",
        "h": "text/plain; charset=utf-8", "java": "text/plain; charset=utf-8", "rb": "text/plain; charset=utf-8",
    ]

    public static func forName(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else {
            return name.hasPrefix(".") || ["Makefile", "Dockerfile", "LICENSE", "README"].contains(name)
                ? "text/plain; charset=utf-8" : "application/octet-stream"
        }
        return types[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}
