import FileAPI
import HTTPTypes
import MultipartKit
import NIOCore

/// A `multipart/form-data` upload, parsed as it streams in: text fields are kept (small), each
/// file part is written straight to a staged file (`AtomicFileWriter`), so memory does not grow
/// with the body. Nothing reaches the workspace until `commit`, after the whole body arrived.
///
/// Blocking; fed by one task at a time on the thread pool (hence `@unchecked Sendable`).
final class MultipartUpload: @unchecked Sendable {
    struct StagedFile {
        let filename: String
        let writer: AtomicFileWriter
    }

    private enum Part {
        case none
        case field(name: String, value: [UInt8])
        case file(StagedFile)
        case ignored
    }

    static let maxFieldBytes = 64 << 10

    private let parser: MultipartParser
    private let stagingDirectory: String
    private let maxBytes: Int64
    private let spaceLeft: Int64
    private let limits: MultipartLimits
    private var fileParts = 0
    private var otherParts = 0
    /// Places taken in `StagedFileBudget.shared`, given back when the upload is gone.
    private var budgetHeld = 0
    private var headers: [String: String] = [:]
    private var part: Part = .none
    private var total: Int64 = 0
    private var failure: (any Error)?
    private(set) var fields: [String: String] = [:]
    private(set) var files: [StagedFile] = []

    init(contentType: String, stagingDirectory: String, maxBytes: Int64, spaceLeft: Int64, limits: MultipartLimits = MultipartLimits()) throws {
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = Self.parameter("boundary", in: contentType), !boundary.isEmpty, boundary.utf8.count <= 200 else {
            throw HostError(.validation, "the body must be multipart/form-data with a boundary")
        }
        parser = MultipartParser(boundary: boundary)
        self.stagingDirectory = stagingDirectory
        self.maxBytes = maxBytes
        self.spaceLeft = spaceLeft
        self.limits = limits
        parser.onHeader = { [unowned self] name, value in self.headers[name.lowercased()] = value }
        parser.onBody = { [unowned self] buffer in self.body(buffer) }
        parser.onPartComplete = { [unowned self] in self.complete() }
    }

    deinit {
        StagedFileBudget.shared.release(budgetHeld)
    }

    /// Parses the next bytes of the body; throws the first failure (a limit, a bad body).
    func feed(_ buffer: ByteBuffer) throws {
        do {
            try parser.execute(buffer)
        } catch {
            throw HostError(.validation, "the multipart body is malformed")
        }
        if let failure { throw failure }
    }

    private func body(_ buffer: ByteBuffer) {
        guard failure == nil else { return }
        if case .none = part { begin() }
        do {
            switch part {
            case .field(let name, var value):
                guard value.count + buffer.readableBytes <= Self.maxFieldBytes else {
                    throw HostError(.validation, "form field '\(name)' is too long")
                }
                value.append(contentsOf: buffer.readableBytesView)
                part = .field(name: name, value: value)
            case .file(let staged):
                try buffer.withUnsafeReadableBytes { try staged.writer.write($0) }
                total += Int64(buffer.readableBytes)
            case .none, .ignored:
                break
            }
        } catch {
            failure = error
        }
    }

    private func complete() {
        guard failure == nil else { return }
        if case .none = part { begin() }
        switch part {
        case .field(let name, let value): fields[name] = String(decoding: value, as: UTF8.self)
        case .file(let staged): files.append(staged)
        case .none, .ignored: break
        }
        part = .none
        headers = [:]
    }

    /// The first body bytes of a part: its headers are complete, so its kind is known.
    private func begin() {
        let disposition = headers["content-disposition"] ?? ""
        let name = Self.parameter("name", in: disposition) ?? ""
        if let filename = Self.parameter("filename", in: disposition) ?? (name == "file" ? "" : nil) {
            fileParts += 1
            guard fileParts <= limits.maxFiles else {
                failure = HostError(.payloadTooLarge, "the form has more than \(limits.maxFiles) files; send many files as an archive")
                part = .ignored
                return
            }
            guard StagedFileBudget.shared.take(limit: limits.maxStagedFiles) else {
                failure = HostError(.rateLimited, "too many files are being uploaded at once; retry shortly", retryAfterSeconds: 1)
                part = .ignored
                return
            }
            budgetHeld += 1
            do {
                let writer = try AtomicFileWriter(
                    stagingDirectory: stagingDirectory, maxBytes: maxBytes - total, spaceLeft: spaceLeft - total)
                part = .file(StagedFile(filename: filename, writer: writer))
            } catch {
                failure = error
                part = .ignored
            }
        } else {
            otherParts += 1
            guard otherParts <= limits.maxFields else {
                failure = HostError(.payloadTooLarge, "the form has more than \(limits.maxFields) fields")
                part = .ignored
                return
            }
            part = name.isEmpty ? .ignored : .field(name: name, value: [])
        }
    }

    /// A parameter of a header value (`name="x"`, `name=x`), unquoted; `filename*=UTF-8''…` too.
    static func parameter(_ key: String, in value: String) -> String? {
        for piece in Self.split(value) {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            let name = pair[0].lowercased()
            if name == key + "*", let quote = pair[1].range(of: "''") {
                return String(pair[1][quote.upperBound...]).removingPercentEncoding
            }
            guard name == key else { continue }
            var raw = pair[1]
            if raw.hasPrefix("\""), raw.hasSuffix("\""), raw.count >= 2 {
                raw = String(raw.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            return raw
        }
        return nil
    }

    /// Splits on `;` outside quotes.
    private static func split(_ value: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in value {
            if escaped { current.append(character); escaped = false; continue }
            if character == "\\" && quoted { current.append(character); escaped = true; continue }
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted { pieces.append(current); current = ""; continue }
            current.append(character)
        }
        pieces.append(current)
        return pieces
    }
}

import Foundation
