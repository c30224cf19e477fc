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
        /// `index`: the route's position in registration order.
        case found(Handler, index: Int, pattern: String, parameters: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private var routes: [Route] = []
    /// Routes without parameters by their exact path: most requests are
    /// answered by one dictionary lookup instead of a scan.
    private var staticRoutes: [String: [Int]] = [:]

    public init() {}

    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        if !pattern.contains("{") { staticRoutes[pattern, default: []].append(routes.count) }
        routes.append(Route(method: method, pattern: pattern,
                            segments: pattern.split(separator: "/", omittingEmptySubsequences: false),
                            handler: handler))
    }

    /// A path spelled out by a route without parameters (`/objects/delete`)
    /// is that route's resource alone: a pattern that would also match it
    /// (`/objects/{object_name}`) is not consulted, so its Allow names only
    /// the literal route's methods.
    public func match(method: String, rawPath: String) -> Match {
        if let candidates = staticRoutes[rawPath] {
            for index in candidates where routes[index].method == method {
                return .found(routes[index].handler, index: index, pattern: routes[index].pattern, parameters: [:])
            }
            if method == "HEAD", let index = candidates.first(where: { routes[$0].method == "GET" }) {
                return .found(routes[index].handler, index: index, pattern: routes[index].pattern, parameters: [:])
            }
            return .methodNotAllowed(allowed: candidates.map { routes[$0].method })
        }
        let segments = rawPath.split(separator: "/", omittingEmptySubsequences: false)
        var allowed: [String] = []
        for index in routes.indices where Self.matches(routes[index].segments, segments) {
            let route = routes[index]
            if route.method == method || (method == "HEAD" && route.method == "GET" && !routes.contains { $0.method == "HEAD" && $0.pattern == route.pattern }) {
                return .found(route.handler, index: index, pattern: route.pattern, parameters: Self.bind(route.segments, segments))
            }
            allowed.append(route.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// Literal segments equal, same count; no allocation (runs for every route).
    private static func matches(_ pattern: [Substring], _ path: [Substring]) -> Bool {
        guard pattern.count == path.count else { return false }
        for i in pattern.indices where pattern[i].first != "{" && pattern[i] != path[i] {
            return false
        }
        return true
    }

    private static func bind(_ pattern: [Substring], _ path: [Substring]) -> [String: String] {
        var parameters: [String: String] = [:]
        for (p, s) in zip(pattern, path) where p.first == "{" {
            parameters[String(p.dropFirst().dropLast())] = String(s)
        }
        return parameters
    }
}
