/// The tools the agent has, with the JSON Schema of each one's parameters.
extension ToolDefinition {
    static func object(_ properties: [String: JSONValue], required: [String]) -> JSONValue {
        ["type": "object", "properties": .object(properties), "required": .array(required.map(JSONValue.string))]
    }

    static func property(_ type: String, _ description: String) -> JSONValue {
        ["type": .string(type), "description": .string(description)]
    }

    public static let catalog: [ToolDefinition] = [
        ToolDefinition(
            name: "shell",
            description: "Run a shell command (/bin/sh -c) in the sandbox and get its exit code and output (stdout and stderr interleaved). Blocks until it exits or times out; with session_name it starts in that named session instead and returns at once (for servers and watchers).",
            parameters: object([
                "command": property("string", "The command line"),
                "timeout": property("number", "Seconds before everything the command started is killed (default 120, at most 3600)"),
                "cwd": property("string", "Working directory (default /workspace)"),
                "session_name": property("string", "Run in this named background session and return at once"),
            ], required: ["command"])),
        ToolDefinition(
            name: "read_file",
            description: "Read a text file of the workspace, optionally only lines start_line..end_line (1-based, inclusive). Lines are prefixed with their numbers.",
            parameters: object([
                "path": property("string", "Path inside /workspace"),
                "start_line": property("integer", "First line to read (1-based)"),
                "end_line": property("integer", "Last line to read (inclusive)"),
            ], required: ["path"])),
        ToolDefinition(
            name: "write_file",
            description: "Create or overwrite a file with the given content (parent directories are created).",
            parameters: object([
                "path": property("string", "Path inside /workspace"),
                "content": property("string", "The whole new content"),
            ], required: ["path", "content"])),
        ToolDefinition(
            name: "edit_file",
            description: "Replace an exact string in a file. old_string must occur exactly once (include surrounding lines to make it unique) unless replace_all is true.",
            parameters: object([
                "path": property("string", "Path inside /workspace"),
                "old_string": property("string", "The exact text to replace"),
                "new_string": property("string", "The replacement"),
                "replace_all": property("boolean", "Replace every occurrence"),
            ], required: ["path", "old_string", "new_string"])),
        ToolDefinition(
            name: "list_files",
            description: "List files and directories under a path as a tree (dependency and build directories such as node_modules are listed but not entered).",
            parameters: object([
                "path": property("string", "Directory inside /workspace (default /workspace)"),
                "depth": property("integer", "Levels to descend (default 3, at most 10)"),
            ], required: [])),
        ToolDefinition(
            name: "search_files",
            description: "Find lines containing a literal string in the workspace's text files.",
            parameters: object([
                "query": property("string", "The literal text to find"),
                "path": property("string", "Directory to search (default /workspace)"),
                "glob": property("string", "Only files whose name matches, e.g. *.py"),
            ], required: ["query"])),
        ToolDefinition(
            name: "delete_file",
            description: "Delete a file, or a directory with everything in it.",
            parameters: object(["path": property("string", "Path inside /workspace")], required: ["path"])),
        ToolDefinition(
            name: "start_dev_server",
            description: "Start the project's dev server in the background (the given command, or one chosen from the project: package.json dev/start, manage.py, app.py, index.html).",
            parameters: object([
                "command": property("string", "The command that starts the server"),
                "port": property("integer", "The port it listens on"),
            ], required: [])),
        ToolDefinition(
            name: "get_preview_url",
            description: "Get the URL where a person can open the app served on a port of the sandbox, once something listens there.",
            parameters: object(["port": property("integer", "The port")], required: ["port"])),
    ]
}
