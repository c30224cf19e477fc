/// Files and bytes protected by one master key id (`depotctl keys status`).
public struct KeyUsage: Equatable {
    public var keyID: String
    public var files: Int64
    public var bytes: Int64
}
