import ArgumentParser

/// `sandbox-host keys create --user NAME | revoke KEY_ID | list`.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage API keys.", subcommands: [Create.self, Revoke.self, List.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key for a user (printed once).")
        @Option(help: "The user who will own the key.") var user: String
        @OptionGroup var data: DataDirOption

        func run() throws {
            let database = try DataDirectory.open(data.configuration()).database
            let created = try database.runBlocking { connection in
                try connection.transaction { () -> (key: String, record: APIKeyRecord)? in
                    guard let owner = try UserStore.user(named: user, in: connection) else { return nil }
                    return try UserStore.createKey(for: owner, in: connection)
                }
            }
            guard let created else { throw ValidationError("no user named '\(user)'") }
            print("Created key \(created.record.id) for '\(user)'. API key, shown once:")
            print(created.key)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key by its id; it stops working at once.")
        @Argument(help: "The key's id, as `keys list` shows it.") var keyID: String
        @OptionGroup var data: DataDirOption

        func run() throws {
            let database = try DataDirectory.open(data.configuration()).database
            guard try database.runBlocking({ try UserStore.revokeKey(id: keyID, in: $0) }) else {
                throw ValidationError("no key with id '\(keyID)'")
            }
            print("Revoked key \(keyID).")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (ids only; keys are never stored).")
        @OptionGroup var data: DataDirOption

        func run() throws {
            let database = try DataDirectory.open(data.configuration()).database
            let keys = try database.runBlocking { try UserStore.keys(in: $0) }
            let rows = [["KEY ID", "USER", "CREATED", "REVOKED"]]
                + keys.map { [$0.id, $0.userName, $0.createdAt, $0.revokedAt ?? "-"] }
            print(Table.render(rows))
        }
    }
}
