import ArgumentParser

/// `sandbox-host users create NAME`.
struct UsersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage users.", subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user and a first API key for it (printed once).")

        @Argument(help: "The user's name.") var name: String
        @OptionGroup var data: DataDirOption

        func run() throws {
            let name = try Validation.text(name, field: "name", maxLength: 100)
            let database = try DataDirectory.open(data.configuration()).database
            let (user, key) = try database.runBlocking { connection in
                try connection.transaction {
                    let user = try UserStore.createUser(named: name, in: connection)
                    return (user, try UserStore.createKey(for: user, in: connection).key)
                }
            }
            print("Created user '\(user.name)' (\(user.id)). API key, shown once:")
            print(key)
        }
    }
}
