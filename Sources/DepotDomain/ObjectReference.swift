import Foundation

/// What a route's `{object_name}` (or a download's `objectKey`) resolves to.
public enum ObjectReference: Equatable {
    /// A key inside the caller's own folder; `name` is its last segment.
    case own(key: String, name: String)
    /// A workflow file's full key in the caller's organization: reachable by
    /// its uploader and by organization admins (the route checks which).
    case workflow(key: String)
    /// Well-formed but outside the caller's folder: answer 404.
    case foreign
}
