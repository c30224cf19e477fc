import Foundation

/// One HTTP answer, whatever its status.
struct HTTPAnswer {
    var status: Int
    /// Header names lowercased, in arrival order.
    var headers: [(String, String)]
    /// At most `responseLimit` bytes of the body.
    var body: [UInt8]

    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.last { $0.0 == lower }?.1
    }
}
