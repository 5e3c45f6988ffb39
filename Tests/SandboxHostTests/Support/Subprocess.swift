import Foundation

/// Runs a program to its end and answers its exit status and output: the one way tests run git,
/// Python or the host's CLI.
enum Subprocess {
    /// `mergeStandardError`: stderr goes into the output too (for messages); leave it apart when
    /// the output is data (an archive on stdout).
    static func run(_ executable: String, _ arguments: [String], mergeStandardError: Bool = true) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if mergeStandardError { process.standardError = pipe }
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }
}
