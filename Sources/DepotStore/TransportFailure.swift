import Foundation

/// Failure before any HTTP status was received (or while sending the body).
struct TransportFailure: Error {
    var message: String
}
