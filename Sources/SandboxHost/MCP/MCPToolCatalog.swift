import MCP

/// The tools `/mcp` offers: names, descriptions and JSON Schemas written for a model to use
/// well (what each does, what it answers, the limits it meets). Each is a face of an HTTP route
/// of the contract; `MCPToolbox` runs them.
enum MCPToolCatalog {
    static let sandboxID: Value = [
        "type": "string",
        "description": "The sandbox's id, as create_sandbox or list_sandboxes gave it.",
    ]
    static let path: Value = [
        "type": "string",
        "description": "A path inside /workspace: 'src/app.ts', './src/app.ts' and '/workspace/src/app.ts' name the same file. Paths outside /workspace are refused.",
    ]

    static func object(_ properties: [String: Value], required: [String]) -> Value {
        .object([
            "type": "object",
            "properties": .object(properties),
            "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ])
    }

    static let tools: [Tool] = [
        Tool(
            name: "create_sandbox",
            description: "Create a new sandbox: an isolated Linux machine with a persistent /workspace directory, started and ready for run_command and the file tools. Creates a project to hold it (or, given project_id, starts that project's sandbox). Answers sandbox_id, which every other tool takes.",
            inputSchema: object([
                "name": ["type": "string", "description": "A name for the new project (default 'mcp-sandbox'), up to 200 characters."],
                "project_id": ["type": "string", "description": "An existing project of yours whose sandbox to start instead of creating a project."],
            ], required: []),
            annotations: .init(title: "Create sandbox", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false)),
        Tool(
            name: "list_sandboxes",
            description: "List your sandboxes: sandbox_id, project_id, project name and state (running or stopped; a stopped one starts again on its next command).",
            inputSchema: object([:], required: []),
            annotations: .init(title: "List sandboxes", readOnlyHint: true)),
        Tool(
            name: "run_command",
            description: "Run a shell command (/bin/sh -c) in the sandbox and wait for it to finish. Answers exit_code, stdout and stderr (each cut to its first and last 32 KiB when longer), timed_out and duration_ms. On timeout every process the command started is killed and exit_code is 124. For servers that keep running, use start_dev_server instead.",
            inputSchema: object([
                "sandbox_id": sandboxID,
                "command": ["type": "string", "description": "The command line, e.g. 'npm install' or 'ls -la && cat package.json'."],
                "timeout": ["type": "number", "description": "Seconds to wait before killing the command (default 60, at most 86400)."],
                "cwd": ["type": "string", "description": "Absolute working directory inside the sandbox (default /workspace)."],
                "env": ["type": "object", "additionalProperties": ["type": "string"], "description": "Extra environment variables."],
            ], required: ["sandbox_id", "command"]),
            annotations: .init(title: "Run command", readOnlyHint: false, destructiveHint: true, openWorldHint: true)),
        Tool(
            name: "read_file",
            description: "Read a UTF-8 text file from the sandbox's /workspace (up to 256 KiB; for larger or binary files use run_command with head, tail or base64).",
            inputSchema: object(["sandbox_id": sandboxID, "path": path], required: ["sandbox_id", "path"]),
            annotations: .init(title: "Read file", readOnlyHint: true)),
        Tool(
            name: "write_file",
            description: "Write a text file in the sandbox's /workspace, replacing it if it exists and creating missing parent directories. The write is atomic: a reader sees the old or the new content, never a part.",
            inputSchema: object([
                "sandbox_id": sandboxID, "path": path,
                "content": ["type": "string", "description": "The file's full new content (UTF-8)."],
            ], required: ["sandbox_id", "path", "content"]),
            annotations: .init(title: "Write file", readOnlyHint: false, destructiveHint: true, idempotentHint: true)),
        Tool(
            name: "list_files",
            description: "List one directory of the sandbox's /workspace: each entry's name, path, is_dir, size and modification time, directories first. At most 1000 entries; 'truncated' says when more were left out.",
            inputSchema: object([
                "sandbox_id": sandboxID,
                "path": ["type": "string", "description": "The directory (default /workspace)."],
            ], required: ["sandbox_id"]),
            annotations: .init(title: "List files", readOnlyHint: true)),
        Tool(
            name: "search_files",
            description: "Search the text of files under a directory of /workspace for a literal string (not a regular expression). Answers matches as path, line (from 1) and the line's text; at most 200. Skips node_modules, .git and other heavy directories.",
            inputSchema: object([
                "sandbox_id": sandboxID,
                "query": ["type": "string", "description": "The text to find, literally."],
                "path": ["type": "string", "description": "The directory to search (default /workspace)."],
                "glob": ["type": "string", "description": "Only files whose name matches this glob, e.g. '*.ts'."],
            ], required: ["sandbox_id", "query"]),
            annotations: .init(title: "Search files", readOnlyHint: true)),
        Tool(
            name: "start_dev_server",
            description: "Start a long-running dev server in the background (restarting one already started). Without a command, one is chosen from the project (package.json dev/start script, manage.py, app.py or index.html). Then call get_preview_url with its port once it listens.",
            inputSchema: object([
                "sandbox_id": sandboxID,
                "command": ["type": "string", "description": "The command, e.g. 'npm run dev -- --host 0.0.0.0 --port 3000'. Optional."],
                "port": ["type": "integer", "minimum": 1, "maximum": 65535, "description": "The port it will listen on (default: the chosen command's)."],
            ], required: ["sandbox_id"]),
            annotations: .init(title: "Start dev server", readOnlyHint: false, destructiveHint: false, openWorldHint: true)),
        Tool(
            name: "get_preview_url",
            description: "The URL where a browser opens what listens on a port inside the sandbox (a dev server). status is 'available' with preview_url when something listens there, else 'dev_server_not_running' (it may still be starting: try again in a few seconds).",
            inputSchema: object([
                "sandbox_id": sandboxID,
                "port": ["type": "integer", "minimum": 1, "maximum": 65535, "description": "The port inside the sandbox, e.g. 3000."],
            ], required: ["sandbox_id", "port"]),
            annotations: .init(title: "Get preview URL", readOnlyHint: true)),
        Tool(
            name: "delete_sandbox",
            description: "Delete a sandbox: every process in it is killed and its machine is removed. Its project and /workspace files stay (create_sandbox with that project_id starts a fresh sandbox on them).",
            inputSchema: object(["sandbox_id": sandboxID], required: ["sandbox_id"]),
            annotations: .init(title: "Delete sandbox", readOnlyHint: false, destructiveHint: true, idempotentHint: true)),
    ]
}
