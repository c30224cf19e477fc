import Foundation

public struct CategoryUsage: Equatable {
    public var bytes: Int64
    public var files: Int64
    public init(bytes: Int64, files: Int64) { self.bytes = bytes; self.files = files }
}
