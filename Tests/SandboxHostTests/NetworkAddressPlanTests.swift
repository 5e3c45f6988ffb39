import Testing
@testable import SandboxNetwork
@testable import SandboxRuntime

/// How the range is cut and how this host's kernel objects are named (no kernel involved).
struct NetworkAddressPlanTests {
    @Test func rangeIsCutIntoBlocksOfFour() throws {
        let plan = try #require(AddressPlan(range: AddressBlock(bytes: [10, 233, 0, 0], prefix: 16)!))
        #expect(plan.resolver == [10, 233, 0, 1])
        #expect(plan.gateway(slot: 1) == [10, 233, 0, 5])
        #expect(plan.address(slot: 1) == [10, 233, 0, 6])
        #expect(plan.address(slot: 64) == [10, 233, 1, 2])
        #expect(plan.slotCount == 16383)
        #expect(plan.address(slot: plan.slotCount) == [10, 233, 255, 254])
        let small = try #require(AddressPlan(range: AddressBlock(bytes: [10, 200, 4, 0], prefix: 22)!))
        #expect(small.slotCount == 255)
        #expect(AddressPlan(range: AddressBlock(bytes: [10, 0, 0, 0], prefix: 30)!) == nil)
        #expect(AddressPlan(range: AddressBlock(bytes: [Array(repeating: 0, count: 15), [1]].flatMap { $0 }, prefix: 64)!) == nil)
        #expect(AddressPlan(range: AddressBlock(bytes: [10, 0, 0, 0], prefix: 8)!)?.slotCount == AddressPlan.maxSlots)
    }

    @Test func namesFitAndStayWithinTheirHost() {
        let names = LinkNames(instanceKey: "a1b2c3d4e5f6")
        #expect(names.prefix == "sba1b2c3")
        #expect(names.hostInterface(slot: 1) == "sba1b2c31")
        #expect(names.hostInterface(slot: AddressPlan.maxSlots).utf8.count <= 15)
        #expect(names.resolverInterface == "sba1b2c3dns")
        #expect(names.owns("sba1b2c3ff"))
        #expect(names.owns("sba1b2c3dns"))
        #expect(!names.owns("sba1b2c3"))
        #expect(!names.owns("sba1b2c3-x"))
        #expect(!names.owns("eth0"))
    }
}
