import Foundation

/// Field checks shared by the controllers; each failure is a 422 naming the field.
enum Validation {
    static func text(
        _ value: String, field: String, maxLength: Int, allowEmpty: Bool = false, allowNewlines: Bool = false
    ) throws -> String {
        let trimmed = allowNewlines ? value : value.trimmingCharacters(in: .whitespaces)
        if !allowEmpty && trimmed.isEmpty {
            throw HostError(.unprocessable, "field '\(field)' must not be empty")
        }
        if trimmed.count > maxLength {
            throw HostError(.unprocessable, "field '\(field)' is longer than \(maxLength) characters")
        }
        let forbidden = trimmed.unicodeScalars.contains { scalar in
            scalar.value == 0 || (scalar.properties.generalCategory == .control && !(allowNewlines && (scalar == "\n" || scalar == "\t" || scalar == "\r")))
        }
        if forbidden {
            throw HostError(.unprocessable, "field '\(field)' contains control characters")
        }
        return trimmed
    }
}
