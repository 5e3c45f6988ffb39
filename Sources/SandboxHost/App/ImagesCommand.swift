import ArgumentParser
import SandboxRuntime

/// `sandbox-host images import NAME PATH | list`.
struct ImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images", abstract: "Manage sandbox images.", subcommands: [Import.self, List.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a root filesystem (a directory, or a .tar/.tar.gz such as debootstrap or docker export make).")
        @Argument(help: "The image's name, as projects will name it.") var name: String
        @Argument(help: "A directory or a tarball holding the root filesystem.") var path: String
        @OptionGroup var data: DataDirOption

        func run() throws {
            let configuration = data.configuration()
            let info: ImageStore.Info
            do {
                info = try ImageStore(root: configuration.dataDir + "/images").importImage(named: name, from: path)
            } catch let error as RuntimeError {
                // Printed as before the runtime had its own error type: the contract's code, the message.
                throw HostError(HostError(error).code, error.message)
            }
            print("Imported image '\(info.name)'. Create a project with {\"name\": …, \"image\": \"\(info.name)\"}.")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the images projects may use.")
        @OptionGroup var data: DataDirOption

        func run() throws {
            let images = ImageStore(root: data.configuration().dataDir + "/images").list()
            print(Table.render([["NAME", "SOURCE", "IMPORTED"]] + images.map { [$0.name, $0.source, $0.created_at.isEmpty ? "-" : $0.created_at] }))
        }
    }
}
