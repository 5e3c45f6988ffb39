import Synchronization

/// What a `tree` answer may still take, nodes and bytes of JSON, shared by the walks that build
/// it at once: once spent, every walk stops and the tree says `truncated`.
final class TreeBudget: Sendable {
    let limits: ResponseLimits
    private let nodes = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)
    private let spent = Atomic<Bool>(false)

    init(_ limits: ResponseLimits) { self.limits = limits }

    /// The JSON of one node but its name and path: keys, type, size, brackets.
    static let nodeCost = 80

    /// Takes one node of `cost` bytes; false (and from then on `exhausted`) if the budget is spent.
    func take(cost: Int) -> Bool {
        guard !spent.load(ordering: .relaxed) else { return false }
        let count = nodes.wrappingAdd(1, ordering: .relaxed).newValue
        let total = bytes.wrappingAdd(cost, ordering: .relaxed).newValue
        guard count <= limits.maxEntries, total <= limits.maxBytes else {
            spent.store(true, ordering: .relaxed)
            return false
        }
        return true
    }

    var exhausted: Bool { spent.load(ordering: .relaxed) }
}
