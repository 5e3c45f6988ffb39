extension NetworkDestination {
    /// Whether a DNS name falls under this entry (API.md, "Network"): `.domain("pypi.org")`
    /// matches `pypi.org` only; `.wildcard("npmjs.org")` (`*.npmjs.org`) matches one or more
    /// labels in front of `npmjs.org` (`a.npmjs.org`, `a.b.npmjs.org`), never `npmjs.org` itself
    /// nor `xnpmjs.org`. Case-insensitive; one trailing dot (a fully qualified name, as a DNS
    /// question carries it) is ignored. An address block matches no name.
    public func matches(name: String) -> Bool {
        let name = Self.normalisedQueryName(name)
        guard !name.isEmpty else { return false }
        switch self {
        case .block: return false
        case .domain(let domain): return name == domain
        case .wildcard(let suffix):
            // "a.npmjs.org" ends with ".npmjs.org" and has something in front of the dot;
            // "npmjs.org" and "xnpmjs.org" do not end with ".npmjs.org".
            guard name.utf8.count > suffix.utf8.count + 1 else { return false }
            return name.hasSuffix("." + suffix) && !name.hasPrefix(".")
        }
    }

    /// A queried name as entries are stored: ASCII lower case, without the root's trailing dot.
    static func normalisedQueryName(_ name: String) -> String {
        var name = Substring(name)
        if name.hasSuffix(".") { name = name.dropLast() }
        return String(String.UnicodeScalarView(name.unicodeScalars.map { scalar in
            ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
        }))
    }
}

extension NetworkPolicy {
    /// Whether a DNS name is allowed to resolve under this policy: in `allowlist` mode, a name
    /// some `allowOut` entry matches and no `denyOut` entry does; in `open` mode, any name no
    /// `denyOut` entry matches; in `none` mode, nothing. (Addresses are the packet filter's.)
    public func allowsName(_ name: String) -> Bool {
        switch mode {
        case .none: return false
        case .open: return !denyOut.contains { $0.matches(name: name) }
        case .allowlist:
            return allowOut.contains { $0.matches(name: name) } && !denyOut.contains { $0.matches(name: name) }
        }
    }
}
