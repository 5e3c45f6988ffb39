import CSandbox
import Foundation
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

@Suite struct RuntimeProbeTests {
    @Test func parsesCgroupV1Mounts() {
        let mountinfo = """
            30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
            31 30 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
            33 30 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
            """
        let layout = CgroupLayout.parse(mountinfo: mountinfo) { _ in nil }
        guard case .v1(let mounts) = layout else {
            Issue.record("expected v1, got \(String(describing: layout))")
            return
        }
        #expect(mounts["memory"] == "/sys/fs/cgroup/memory")
        #expect(mounts["cpu"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(mounts["pids"] == "/sys/fs/cgroup/pids")
    }

    @Test func parsesCgroupV2WithItsControllers() {
        let mountinfo = "35 25 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate"
        let layout = CgroupLayout.parse(mountinfo: mountinfo) { path in
            path == "/sys/fs/cgroup/cgroup.controllers" ? "cpuset cpu io memory pids\n" : nil
        }
        #expect(layout == .v2(root: "/sys/fs/cgroup", controllers: ["cpuset", "cpu", "io", "memory", "pids"]))
    }

    @Test func hybridLayoutUsesTheV1ControllersThatHoldMemory() {
        let mountinfo = """
            31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            40 30 0:40 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
            """
        guard case .v1 = CgroupLayout.parse(mountinfo: mountinfo, read: { _ in "" }) else {
            Issue.record("expected v1 for a hybrid layout")
            return
        }
    }

    @Test func noCgroupsIsNil() {
        #expect(CgroupLayout.parse(mountinfo: "1 0 0:1 / / rw - ext4 /dev/vda rw", read: { _ in nil }) == nil)
    }

    /// On this machine (root, as CI runs) the probe must find everything the runtime needs.
    @Test(.enabled(if: geteuid() == 0, "the sandbox runtime needs root"))
    func probeFindsEverythingAsRoot() {
        let capabilities = RuntimeProbe.run()
        #expect(capabilities.map(\.name) == ["privileges", "namespaces", "overlayfs", "cgroups", "idmapped_mounts", "sandbox_helper"])
        #expect(capabilities.last?.status == .ok, "sandbox-init is built beside the test binary")
        #expect(RuntimeProbe.helper("/nonexistent/sandbox-init").status == .critical)
        let namespaces = capabilities.first { $0.name == "namespaces" }
        #expect(namespaces?.status == .ok, "\(String(describing: namespaces))")
        #expect(capabilities.allSatisfy { $0.status == .ok || !$0.fix.isEmpty }, "every gap names a fix")
    }

    @Test func probeOfANamespaceTheKernelRefusesReportsIt() {
        // CLONE_NEWUSER together with CLONE_FS is refused by the kernel (EINVAL): a real failure path.
        let cloneFS: Int32 = 0x0000_0200
        #expect(csb_probe_clone(0x1000_0000 | cloneFS) == EINVAL)
    }

    @Test(.testHost) func deepHealthReportsEveryComponent() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        try await client.execute(uri: "/api/health/deep", method: .get) { response in
            let body = response.json
            let components = body["components"] as? [String: [String: Any]] ?? [:]
            #expect(Set(components.keys) == ["database", "sandbox_runtime", "disk", "llm", "network"])
            #expect(components["database"]?["status"] as? String == "ok")
            #expect(components.values.allSatisfy { ($0["detail"] as? String)?.isEmpty == false })
            #expect(components["llm"]?["status"] as? String == "degraded")
            let overall = body["status"] as? String
            #expect(["ok", "degraded", "critical"].contains(overall))
            #expect(response.status == (overall == "critical" ? .serviceUnavailable : .ok))
            #expect(!response.text.contains(host.directory), "no host path in the answer")
        }
    }
}
