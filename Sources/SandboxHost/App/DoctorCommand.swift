import ArgumentParser
import Foundation
import SandboxNetwork
import SandboxRuntime

/// `sandbox-host doctor`: what the sandbox runtime needs, as a table with a fix for each gap.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor", abstract: "Check what the sandbox runtime needs from this machine.")

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = HostConfiguration.fromEnvironment(environment)
        try? configuration.readNetworkEnvironment(environment)
        let dataDir = configuration.dataDir
        // The network's gaps are degraded at worst: sandboxes then start with loopback only.
        let capabilities = RuntimeProbe.run()
            + NetworkProbe.run(range: configuration.networkRange, instanceKey: SandboxRuntime.instanceKey(dataDir))
        let rows = [["CHECK", "STATUS", "DETAIL"]] + capabilities.map { [$0.name, $0.status.rawValue, $0.detail] }
        print(Table.render(rows))
        let gaps = capabilities.filter { $0.status != .ok }
        if gaps.isEmpty {
            print("\nAll checks passed.")
        } else {
            print("\nTo fix:")
            for gap in gaps { print("- \(gap.name): \(gap.fix)") }
        }
        if capabilities.contains(where: { $0.status == .critical }) { throw ExitCode(1) }
    }
}
