import Foundation

/// Matches a method and a raw (still percent-encoded) path against route
/// patterns like `/api/v1/storage/objects/{object_name}/metadata`. Parameters
/// are handed over raw: decoding and validating them is the handler's job,
/// because an object name is only safe once the domain rules have seen it.
public struct Router<Handler> {
    private struct Route {
        let method: String
        let pattern: String
        let segments: [Substring]
        let handler: Handler
    }

    public enum Match {
        case found(Handler, method: String, pattern: String, parameters: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private var routes: [Route] = []

    public init() {}

    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        routes.append(Route(method: method, pattern: pattern,
                            segments: pattern.split(separator: "/", omittingEmptySubsequences: false),
                            handler: handler))
    }

    public func match(method: String, rawPath: String) -> Match {
        let segments = rawPath.split(separator: "/", omittingEmptySubsequences: false)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Self.bind(route.segments, segments) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET" && !routes.contains { $0.method == "HEAD" && $0.pattern == route.pattern }) {
                return .found(route.handler, method: route.method, pattern: route.pattern, parameters: parameters)
            }
            allowed.append(route.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    private static func bind(_ pattern: [Substring], _ path: [Substring]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        var parameters: [String: String] = [:]
        for (p, s) in zip(pattern, path) {
            if p.hasPrefix("{") && p.hasSuffix("}") {
                parameters[String(p.dropFirst().dropLast())] = String(s)
            } else if p != s {
                return nil
            }
        }
        return parameters
    }
}
