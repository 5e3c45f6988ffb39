import HTTPTypes
import Hummingbird
import Synchronization

/// The methods each route of the router answers, to tell "no such path" (404) from "not with
/// this method" (405 and `Allow`). Filled once, from `Router.routes`, after every route is
/// added (the middleware that reads it is added before them); read-only afterwards.
final class RouteMethods: Sendable {
    private struct Route: Sendable {
        let components: [String]
        let method: HTTPRequest.Method
    }

    private let routes = Mutex<[Route]>([])

    /// Takes the router's routes, but the catch-alls at the root (`/**`: previews and deployed
    /// sites of any method, else 404), which say nothing about the API's paths.
    func load(_ descriptions: [(path: String, method: HTTPRequest.Method)]) {
        let table = descriptions.map { Route(components: $0.path.split(separator: "/").map(String.init), method: $0.method) }
            .filter { $0.components != ["**"] }
        routes.withLock { $0 = table }
    }

    /// The methods of the most specific route pattern that matches `path` (as the router's trie
    /// picks it: literals before captures before `**`), sorted; empty when none matches.
    func allowed(path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            var best: [Int]?
            var methods: Set<HTTPRequest.Method> = []
            for route in routes {
                guard let rank = Self.rank(route.components, segments) else { continue }
                if let current = best, rank == current {
                    methods.insert(route.method)
                } else if best.map({ $0.lexicographicallyPrecedes(rank) }) ?? true {
                    best = rank
                    methods = [route.method]
                }
            }
            return methods.sorted { $0.rawValue < $1.rawValue }
        }
    }

    /// How specifically `pattern` matches `segments` (per component: 2 a literal, 1 a capture,
    /// 0 for `**`), nil when it does not match.
    private static func rank(_ pattern: [String], _ segments: [Substring]) -> [Int]? {
        var rank: [Int] = []
        for (index, component) in pattern.enumerated() {
            if component == "**" {
                return index < segments.count ? rank + [0] : nil
            }
            guard index < segments.count else { return nil }
            if component.hasPrefix("{") || component.hasPrefix(":") || component == "*" {
                rank.append(1)
            } else if component == segments[index] {
                rank.append(2)
            } else {
                return nil
            }
        }
        return pattern.count == segments.count ? rank : nil
    }
}
