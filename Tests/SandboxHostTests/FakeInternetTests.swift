import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import SandboxRuntime

/// The fake internet works from the host's own namespace: the HTTP servers answer with their
/// address, the DNS server answers the fixed names over UDP and TCP and NXDOMAIN for others, and
/// every canary answers (so a sandbox that cannot reach one is stopped by the filter, not by
/// routing).
@Suite(.enabled(if: runningAsRoot, "network namespaces need root, as in CI"))
struct FakeInternetTests {
    @Test func answersFromTheHost() async throws {
        try await FakeInternet.use { internet in
            for (name, address) in internet.names {
                let page = try HostNetworkProbe.get("http://\(address)/")
                #expect(page.status == 200 && page.body == "hello from \(address)\n", "\(name): \(page) \(internet.log)")
                let udp = try HostNetworkProbe.query(name, server: internet.upstream)
                #expect(udp.rcode == 0 && udp.addresses == [address], "\(name) over UDP: \(udp)")
                let tcp = try HostNetworkProbe.query(name, server: internet.upstream, tcp: true)
                #expect(tcp.rcode == 0 && tcp.addresses == [address], "\(name) over TCP: \(tcp)")
            }
            let unknown = try HostNetworkProbe.query("unknown.example.test", server: internet.upstream)
            #expect(unknown.rcode == 3 && unknown.addresses.isEmpty, "\(unknown)")
            let bytes = try HostNetworkProbe.get("http://198.51.100.10/bytes/100000")
            #expect(bytes.status == 200 && bytes.body.utf8.count == 100_000)

            for canary in [internet.description.link_local_canary, internet.description.private_canary] {
                #expect(try HostNetworkProbe.get("http://\(canary)/").body == "canary\n", "\(canary)")
            }
            #expect(try HostNetworkProbe.connect("127.0.0.1", internet.description.loopback_canary_port) == "canary")
            #expect(try HostNetworkProbe.connect("198.51.100.1", internet.description.host_canary_port) == "canary")
        }
    }
}
