/// Why a file got no verdict.
public enum ScanFailure: Error, Equatable, Sendable {
    /// The scanner could not be reached, did not answer in time, closed the
    /// connection or answered with an error: the file is unjudged.
    case unavailable(String)
    /// The file is longer than the scanner accepts (clamd's StreamMaxLength):
    /// it can never be judged, however often it is sent.
    case tooLarge
}
