import Foundation

/// A strict reader of the Prometheus text exposition format (0.0.4), for checking `/metrics`:
/// `# HELP name text` and `# TYPE name type` lines, then samples `name{label="value",…} value`
/// (labels optional, values escaped `\\`, `\"`, `\n`). Every sample belongs to a family whose
/// TYPE came first; a histogram `h` has only `h_bucket` (each with `le`, cumulative, ending in
/// `le="+Inf"`), `h_sum` and `h_count` (equal to the `+Inf` bucket) per label set.
struct PrometheusText {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    struct Malformed: Error, CustomStringConvertible {
        let line: String
        let why: String
        var description: String { "not Prometheus text (\(why)): \(line)" }
    }

    private(set) var types: [String: String] = [:]
    private(set) var help: [String: String] = [:]
    private(set) var samples: [Sample] = []

    init(_ text: String) throws {
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("#") {
                try readComment(line)
            } else {
                let sample = try Self.sample(line)
                guard family(of: sample.name) != nil else { throw Malformed(line: line, why: "no TYPE before it") }
                samples.append(sample)
            }
        }
        try checkHistograms()
    }

    /// The value of the sample `name` with exactly `labels`, if there is one.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    private mutating func readComment(_ line: String) throws {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == "#", ["HELP", "TYPE"].contains(parts[1]) else { return }  // other comments
        guard Self.isName(parts[2]) else { throw Malformed(line: line, why: "bad metric name") }
        if parts[1] == "TYPE" {
            guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                throw Malformed(line: line, why: "bad type")
            }
            guard types[parts[2]] == nil else { throw Malformed(line: line, why: "second TYPE") }
            types[parts[2]] = parts[3]
        } else {
            help[parts[2]] = parts.count == 4 ? parts[3] : ""
        }
    }

    /// The family a sample name belongs to: itself, or a histogram's for its `_bucket`/`_sum`/`_count`.
    private func family(of name: String) -> String? {
        if let type = types[name] { return type == "histogram" ? nil : name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return nil
    }

    private func checkHistograms() throws {
        for (name, type) in types where type == "histogram" {
            var series: [[String: String]: (buckets: [(Double, Double)], sum: Double?, count: Double?)] = [:]
            for sample in samples {
                var labels = sample.labels
                switch sample.name {
                case name + "_bucket":
                    guard let le = labels.removeValue(forKey: "le"), let bound = Self.number(le) else {
                        throw Malformed(line: sample.name, why: "a bucket without le")
                    }
                    series[labels, default: ([], nil, nil)].buckets.append((bound, sample.value))
                case name + "_sum": series[labels, default: ([], nil, nil)].sum = sample.value
                case name + "_count": series[labels, default: ([], nil, nil)].count = sample.value
                default: continue
                }
            }
            for (labels, parts) in series {
                let where_ = "\(name)\(labels)"
                guard let count = parts.count, parts.sum != nil else { throw Malformed(line: where_, why: "no _sum or _count") }
                let buckets = parts.buckets.sorted { $0.0 < $1.0 }
                guard let last = buckets.last, last.0 == .infinity, last.1 == count else {
                    throw Malformed(line: where_, why: "no +Inf bucket equal to _count")
                }
                for (earlier, later) in zip(buckets, buckets.dropFirst()) where later.1 < earlier.1 {
                    throw Malformed(line: where_, why: "buckets not cumulative")
                }
            }
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isName(_ name: String) -> Bool {
        func letter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_" || scalar == ":" }
        guard let first = name.unicodeScalars.first, letter(first) else { return false }
        return name.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) }
    }

    static func number(_ text: String) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    /// `name{labels} value [timestamp]`.
    static func sample(_ line: String) throws -> Sample {
        var rest = Substring(line)
        let name = String(rest.prefix { $0 != "{" && $0 != " " })
        guard isName(name) else { throw Malformed(line: line, why: "bad metric name") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let key = String(rest.prefix { $0 != "=" })
                guard isName(key), !key.contains(":") else { throw Malformed(line: line, why: "bad label name") }
                rest = rest.dropFirst(key.count)
                guard rest.hasPrefix("=\"") else { throw Malformed(line: line, why: "label without a quoted value") }
                rest = rest.dropFirst(2)
                var value = ""
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\"" { closed = true; break }
                    if character == "\\" {
                        guard let escaped = rest.first else { break }
                        rest = rest.dropFirst()
                        switch escaped {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Malformed(line: line, why: "bad escape")
                        }
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw Malformed(line: line, why: "unterminated label value") }
                guard labels.updateValue(value, forKey: key) == nil else { throw Malformed(line: line, why: "label twice") }
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" {
                    throw Malformed(line: line, why: "labels not closed")
                }
            }
            rest = rest.dropFirst()
        }
        let fields = rest.split(separator: " ")
        guard rest.first == " ", (1...2).contains(fields.count), let value = number(String(fields[0])) else {
            throw Malformed(line: line, why: "bad value")
        }
        if fields.count == 2, Int64(fields[1]) == nil { throw Malformed(line: line, why: "bad timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }
}
