extension NetworkDestination {
    /// A name as entries are stored: ASCII lower case, without the root's trailing dot. (Which
    /// names an entry matches is the resolver's to say, label by label: SandboxNetwork's DNSName.)
    static func normalisedQueryName(_ name: String) -> String {
        var name = Substring(name)
        if name.hasSuffix(".") { name = name.dropLast() }
        return String(String.UnicodeScalarView(name.unicodeScalars.map { scalar in
            ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
        }))
    }
}
