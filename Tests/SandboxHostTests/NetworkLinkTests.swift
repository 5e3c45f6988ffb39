import Foundation
import Logging
import Testing
@testable import SandboxHost
@testable import SandboxNetwork
@testable import SandboxRuntime

/// A runtime whose sandboxes get links from a `NetworkManager` over the real kernel (namespaces,
/// veth pairs, addresses, routes), with a filter that installs nothing: the links alone.
struct NetworkTestBed {
    let host: TestHost
    let filter = NullPacketFilter()
    let manager: NetworkManager
    let runtime: SandboxRuntime

    init(poolSize: Int = 2) throws {
        host = try TestHost()
        manager = try NetworkManager(
            configuration: Self.configuration(dataDir: host.directory, poolSize: poolSize), dataDir: host.directory, filter: filter,
            logger: Logger(label: "test"))
        try manager.start()
        var configuration = RuntimeConfiguration(dataDir: host.directory, helperPath: SandboxRuntime.defaultHelperPath(environment: ProcessInfo.processInfo.environment))
        configuration.defaultLimits = host.configuration.sandboxLimits
        runtime = try SandboxRuntime(
            configuration: configuration, store: host.services.sandboxes, workspaces: host.services.workspaces, logger: Logger(label: "test"),
            networking: manager)
    }

    /// A random /22 inside 10.200.0.0/13, so parallel test hosts do not collide.
    static func configuration(dataDir: String, poolSize: Int) -> NetworkConfiguration {
        let block = Int.random(in: 0..<(1 << 9))
        let range = AddressBlock(bytes: [10, UInt8(200 + block >> 6), UInt8((block & 63) << 2), 0], prefix: 22)!
        var configuration = NetworkConfiguration(range: range, instanceKey: SandboxRuntime.instanceKey(dataDir))
        configuration.poolSize = poolSize
        return configuration
    }

    func project() async throws -> String {
        try await host.test { client in try await createProject(client, key: host.adminKey) }
    }

    func exec(_ record: SandboxRecord, _ command: String) async throws -> ExecResult {
        var request = ExecRequest(command: command)
        request.timeoutSeconds = 30
        return try await runtime.execute(record, request)
    }

    /// This host's interfaces in the host's namespace.
    var links: [String] { KernelLinks.interfaces().filter(manager.names.owns) }

    var namespaceFiles: [String] { (try? FileManager.default.contentsOfDirectory(atPath: manager.namespaceDirectory)) ?? [] }

    /// Mounts of this host's namespace files.
    var namespaceMounts: Int {
        let table = KernelLinks.readProcFile("/proc/self/mountinfo") ?? ""
        return table.split(separator: "\n").filter { $0.contains(manager.namespaceDirectory) }.count
    }

    func remove() async {
        await runtime.stopAll()
        manager.stop()
        host.remove()
    }
}

extension HeavySuites {
    @Suite(.enabled(if: runningAsRoot, "links need root, as in CI"))
    struct NetworkLinkTests {
        /// A sandbox started with networking has eth0 with its address and a default route via
        /// the gateway, its resolv.conf names the resolver, and the host has its veth; a stop
        /// removes the link.
        @Test(.timeLimit(.minutes(2))) func sandboxGetsItsLinkAndLosesItOnStop() async throws {
            let bed = try NetworkTestBed()
            defer { Task { await bed.remove() } }
            let record = try await bed.runtime.ensureActive(projectID: try await bed.project(), image: ImageStore.defaultName)
            let link = try #require(bed.manager.attachedLink(record.id))
            let address = AddressPlan.text(link.address), gateway = AddressPlan.text(link.gateway)
            let shown = try await bed.exec(record, "ip -4 -o addr show dev eth0; ip -4 route; cat /etc/resolv.conf")
            #expect(shown.exit_code == 0, "\(shown.output)")
            #expect(shown.stdout.contains("inet \(address)/30"), "\(shown.stdout)")
            #expect(shown.stdout.contains("default via \(gateway) dev eth0"), "\(shown.stdout)")
            #expect(shown.stdout.contains("nameserver \(bed.manager.resolverAddress)"), "\(shown.stdout)")
            #expect(FileManager.default.fileExists(atPath: "/sys/class/net/" + link.hostInterface))
            // The host end answers from inside (no filter here: the link alone): a refused
            // connection is an answer.
            let reached = try await bed.exec(record, """
                python3 - <<'PY'
                import socket
                try: socket.create_connection(('\(gateway)', 9), 2)
                except ConnectionRefusedError: print('reached')
                except Exception as e: print(e)
                PY
                """)
            #expect(reached.stdout.contains("reached"), "\(reached.output)")
            try await bed.runtime.stop(record.id)
            try await waitUntil("the link is removed", timeout: .seconds(10)) { bed.manager.removing == 0 }
            #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/" + link.hostInterface))
            #expect(bed.manager.attachedLink(record.id) == nil)
            #expect(bed.filter.calls.withLock { $0.remove } >= 1)
        }

        /// Root inside the sandbox has no CAP_NET_ADMIN over its namespace (owned by the host's
        /// user namespace): it cannot change its address, its routes or its link.
        @Test(.timeLimit(.minutes(2))) func rootInsideCannotChangeItsAddressOrRoutes() async throws {
            let bed = try NetworkTestBed()
            defer { Task { await bed.remove() } }
            let record = try await bed.runtime.ensureActive(projectID: try await bed.project(), image: ImageStore.defaultName)
            let link = try #require(bed.manager.attachedLink(record.id))
            for command in [
                "ip addr add 10.77.0.9/32 dev eth0", "ip addr del \(AddressPlan.text(link.address))/30 dev eth0",
                "ip route del default", "ip route add 10.78.0.0/16 dev eth0", "ip link set eth0 down",
                "ip link add dummy0 type dummy", "ip link set eth0 address 02:00:00:00:00:01",
            ] {
                let result = try await bed.exec(record, command)
                #expect(result.exit_code != 0, "\(command) succeeded inside the sandbox: \(result.output)")
                #expect(result.output.contains("Operation not permitted"), "\(command): \(result.output)")
            }
            let after = try await bed.exec(record, "ip -4 -o addr show dev eth0; ip -4 route")
            #expect(after.stdout.contains("inet \(AddressPlan.text(link.address))/30"), "\(after.stdout)")
            #expect(!after.stdout.contains("10.77.0.9"), "\(after.stdout)")
            #expect(after.stdout.contains("default via \(AddressPlan.text(link.gateway))"), "\(after.stdout)")
            // The control: what was refused inside is what host root can do to this namespace,
            // and the sandbox sees it, so the refusals above are the capability missing, not a
            // command that cannot work.
            let namespace = bed.manager.namespaceDirectory + "/\(link.slot)"
            let control = Process()
            control.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            control.arguments = ["--net=" + namespace, "ip", "addr", "add", "10.77.0.9/32", "dev", "eth0"]
            try control.run()
            control.waitUntilExit()
            #expect(control.terminationStatus == 0)
            let changed = try await bed.exec(record, "ip -4 -o addr show dev eth0")
            #expect(changed.stdout.contains("10.77.0.9"), "\(changed.stdout)")
        }

        /// The tenant owns its root's upper layer: a link or a directory where resolv.conf was
        /// (made while the sandbox ran without a network, or shipped by an image) never makes the
        /// sandbox unable to start with one (the file is then not bound).
        @Test(.timeLimit(.minutes(2))) func resolvConfReplacedByTheTenantStillStarts() async throws {
            let bed = try NetworkTestBed()
            defer { Task { await bed.remove() } }
            let projectID = try await bed.project()
            let unnetworked = bed.host.services.runtime
            for replacement in ["ln -s /tmp/elsewhere /etc/resolv.conf", "mkdir /etc/resolv.conf", "true"] {
                let record = try await unnetworked.ensureActive(projectID: projectID, image: ImageStore.defaultName)
                let replaced = try await unnetworked.execute(record, ExecRequest(command: "rm -rf /etc/resolv.conf && \(replacement)"))
                #expect(replaced.exit_code == 0, "\(replaced.output)")
                try await unnetworked.stop(record.id)
                let again = try await bed.runtime.ensureActive(projectID: projectID, image: ImageStore.defaultName)
                let alive = try await bed.exec(again, "echo up")
                #expect(alive.stdout == "up\n", "after \(replacement): \(alive.output)")
                try await bed.runtime.stop(again.id)
            }
        }

        /// `none` mode: still a link (a later PUT can open it), but no resolver in resolv.conf.
        @Test(.timeLimit(.minutes(2))) func noneModeNamesNoResolver() async throws {
            let bed = try NetworkTestBed()
            defer { Task { await bed.remove() } }
            let projectID = try await bed.project()
            var record = try await bed.host.services.sandboxes.findOrCreateSandbox(
                projectID: projectID, image: ImageStore.defaultName, limits: bed.host.configuration.sandboxLimits)
            record.network = NetworkPolicy.none
            _ = try await bed.runtime.process(for: record)
            let shown = try await bed.exec(record, "cat /etc/resolv.conf")
            #expect(!shown.stdout.contains("nameserver"), "\(shown.stdout)")
            #expect(bed.filter.calls.withLock { $0.update } >= 1, "the pool's slot has the default policy: one update")
        }

        /// 50 create/delete cycles leave no link, namespace file or mount behind (beyond the
        /// pool's ready slots), slot numbers are reused, and stopping the network removes all.
        @Test(.timeLimit(.minutes(5))) func createDeleteCyclesLeaveNothingBehind() async throws {
            let bed = try NetworkTestBed(poolSize: 2)
            defer { Task { await bed.remove() } }
            let projectID = try await bed.project()
            var slots = Set<Int>()
            for cycle in 0..<50 {
                let record = try await bed.runtime.ensureActive(projectID: projectID, image: ImageStore.defaultName)
                slots.insert(try #require(bed.manager.attachedLink(record.id)).slot)
                if cycle % 10 == 0 {
                    let result = try await bed.exec(record, "ip -4 -o addr show dev eth0")
                    #expect(result.stdout.contains("eth0"), "\(result.output)")
                }
                try await bed.runtime.delete(record)
            }
            #expect(slots.count <= 10, "slot numbers are reused: \(slots.sorted())")
            try await waitUntil("the pool is full again", timeout: .seconds(10)) { bed.manager.readyCount == 2 && bed.manager.removing == 0 }
            #expect(bed.links.count == 2 + 1 || bed.links.count == 2, "\(bed.links)")  // + the resolver's dummy, where the kernel has them
            #expect(bed.namespaceFiles.count == 2, "\(bed.namespaceFiles)")
            #expect(bed.namespaceMounts == 2)
            bed.manager.stop()
            #expect(bed.links.isEmpty, "\(bed.links)")
            #expect(bed.namespaceFiles.isEmpty, "\(bed.namespaceFiles)")
            #expect(bed.namespaceMounts == 0)
        }

        /// A host killed with its sandboxes attached leaves links, namespaces and mounts; the
        /// next start of the same host (same data directory, same names) sweeps them all.
        @Test(.timeLimit(.minutes(2))) func startAfterACrashSweepsLeftovers() async throws {
            let host = try TestHost()
            defer { host.remove() }
            var configuration = NetworkTestBed.configuration(dataDir: host.directory, poolSize: 0)
            let crashed = try NetworkManager(configuration: configuration, dataDir: host.directory, filter: NullPacketFilter(), logger: Logger(label: "test"))
            try crashed.start()
            for id in ["a", "b", "c"] { _ = try await crashed.attach(sandboxID: id, policy: .open) }
            let names = crashed.names, directory = crashed.namespaceDirectory
            func leftovers() -> (links: Int, files: Int, mounts: Int) {
                let mounts = (KernelLinks.readProcFile("/proc/self/mountinfo") ?? "").split(separator: "\n").filter { $0.contains(directory) }.count
                return (KernelLinks.interfaces().filter(names.owns).count, ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).count, mounts)
            }
            #expect(leftovers().links >= 3 && leftovers().files == 3 && leftovers().mounts == 3, "\(leftovers())")
            // No stop: the process "died" (its sockets closed with it). The next start of this
            // host sweeps.
            crashed.closeResolverSockets()
            configuration.poolSize = 0
            let filter = NullPacketFilter()
            let restarted = try NetworkManager(configuration: configuration, dataDir: host.directory, filter: filter, logger: Logger(label: "test"))
            try restarted.start()
            let left = leftovers()
            #expect(left.files == 0 && left.mounts == 0, "\(left)")
            #expect(left.links <= 1, "only the new resolver interface, where the kernel has dummies: \(left)")
            #expect(filter.calls.withLock { $0.removeAll } >= 1, "the filter's table of the crashed run goes too")
            restarted.stop()
            #expect(leftovers().links == 0)
        }

        /// Cost of a slot: made on the spot (the pool empty) and taken from a warm pool.
        @Test(.timeLimit(.minutes(2))) func slotCosts() async throws {
            let bed = try NetworkTestBed(poolSize: 8)
            defer { Task { await bed.remove() } }
            try await waitUntil("the pool is full", timeout: .seconds(20)) { bed.manager.readyCount == 8 }
            var warm: [Double] = []
            for index in 0..<8 {
                let start = ContinuousClock.now
                _ = try await bed.manager.attach(sandboxID: "warm\(index)", policy: .open)
                warm.append(Self.milliseconds(ContinuousClock.now - start))
            }
            var cold: [Double] = []
            for index in 0..<20 {
                let start = ContinuousClock.now
                _ = try await DedicatedThread.run("measure") { try bed.manager.prepare(slot: 1000 + index) }
                cold.append(Self.milliseconds(ContinuousClock.now - start))
            }
            var detach: [Double] = []
            for index in 0..<8 {
                let start = ContinuousClock.now
                await bed.manager.detach(sandboxID: "warm\(index)")
                detach.append(Self.milliseconds(ContinuousClock.now - start))
            }
            try await waitUntil("links removed", timeout: .seconds(10)) { bed.manager.removing == 0 }
            for index in 0..<20 {
                let link = bed.manager.link(slot: 1000 + index)
                KernelLinks.remove(link, namespacePath: bed.manager.namespaceDirectory + "/\(1000 + index)")
            }
            func summary(_ values: [Double]) -> String {
                let sorted = values.sorted()
                return String(format: "median %.2f ms, max %.2f ms", sorted[sorted.count / 2], sorted.last ?? 0)
            }
            print("network slot costs: prepare \(summary(cold)); attach from a warm pool \(summary(warm)); detach \(summary(detach))")
            // A sandbox's start and stop with a network (from the warm pool) and without.
            let projectID = try await bed.project()
            var starts: [String: [Double]] = [:], stops: [String: [Double]] = [:]
            for round in 0..<16 {
                let (name, runtime) = round % 2 == 0 ? ("network", bed.runtime) : ("loopback", bed.host.services.runtime)
                try await waitUntil("the pool is full", timeout: .seconds(10)) { bed.manager.readyCount == 8 }
                let start = ContinuousClock.now
                let record = try await runtime.ensureActive(projectID: projectID, image: ImageStore.defaultName)
                starts[name, default: []].append(Self.milliseconds(ContinuousClock.now - start))
                let stop = ContinuousClock.now
                try await runtime.stop(record.id)
                stops[name, default: []].append(Self.milliseconds(ContinuousClock.now - stop))
            }
            for name in ["network", "loopback"] {
                print("sandbox with \(name): start \(summary(starts[name]!)); stop \(summary(stops[name]!))")
            }
            #expect((warm.sorted()[warm.count / 2]) < 50)
        }

        static func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }
    }
}

extension HeavySuites.NetworkLinkTests {
    /// A range a host route already uses is refused at start, with the route named; nothing of
    /// the refused host is left. Two test hosts given one range are that case: the second sees
    /// the first's links.
    @Test(.timeLimit(.minutes(1))) func rangeOverlappingAHostRouteIsRefused() async throws {
        let first = try NetworkTestBed(poolSize: 1)
        defer { Task { await first.remove() } }
        try await waitUntil("a link exists", timeout: .seconds(10)) { first.manager.readyCount == 1 }
        let host = try TestHost()
        defer { host.remove() }
        var configuration = NetworkConfiguration(range: first.manager.configuration.range, instanceKey: SandboxRuntime.instanceKey(host.directory))
        configuration.poolSize = 1
        let second = try NetworkManager(configuration: configuration, dataDir: host.directory, filter: NullPacketFilter(), logger: Logger(label: "test"))
        #expect {
            try second.start()
        } throws: { error in
            "\(error)".contains("overlaps the host's route") && "\(error)".contains(first.manager.names.prefix)
        }
        #expect(KernelLinks.interfaces().filter(second.names.owns).isEmpty)
    }
}
