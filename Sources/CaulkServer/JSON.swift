import CaulkAPI
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading and writing JSON bodies with the API's conventions (snake_case, ISO 8601 dates).
enum JSON {
    static let maxBody = 1024 * 1024

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONCoding.encoder().encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// Decodes a JSON object body, refusing keys the type does not know (a typo must not be
    /// silently ignored) and naming the field at fault. `refusedKeys` are fields the type has
    /// but this route does not take, each with the message that says why.
    static func decode<T: Decodable>(
        _ type: T.Type, from request: Request, allowedKeys: [String: Set<String>], refusedKeys: [String: String] = [:]
    ) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBody)
        } catch {
            throw APIError.badRequest(field: nil, message: "request body is larger than \(maxBody) bytes")
        }
        let data = Data(buffer: buffer)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw APIError.badRequest(field: nil, message: "request body must be a JSON object")
        }
        for (field, message) in refusedKeys where object[field] != nil {
            throw APIError.badRequest(field: field, message: message)
        }
        try checkKeys(object, path: "", allowedKeys: allowedKeys)
        do {
            return try JSONCoding.decoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError.badRequest(field: field(of: error), message: problem(of: error))
        }
    }

    private static func checkKeys(_ object: [String: Any], path: String, allowedKeys: [String: Set<String>]) throws {
        guard let allowed = allowedKeys[path] else { return }
        for (key, value) in object {
            let field = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                throw APIError.badRequest(field: field, message: "unknown field; expected one of: \(allowed.sorted().joined(separator: ", "))")
            }
            if value is NSNull {
                throw APIError.badRequest(field: field, message: "null is not a value here; leave the field out (\"\" clears an optional text field)")
            }
            if let nested = value as? [String: Any] { try checkKeys(nested, path: field, allowedKeys: allowedKeys) }
        }
    }

    private static func field(of error: DecodingError) -> String? {
        let path: [any CodingKey]
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = context.codingPath
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
        @unknown default:
            return nil
        }
        let names = path.map { $0.intValue.map { "[\($0)]" } ?? snakeCase($0.stringValue) }
        return names.isEmpty ? nil : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func problem(of error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, _): "expected \(type == String.self ? "a string" : type == Int.self ? "a number" : "a value of another type")"
        case .valueNotFound: "is required"
        case .keyNotFound: "is required"
        case .dataCorrupted(let context): context.debugDescription.contains("Cannot initialize") ? "has a value that is not allowed" : context.debugDescription
        @unknown default: "is invalid"
        }
    }

    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
        }
    }
}
