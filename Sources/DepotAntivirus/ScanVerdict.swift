/// What a scanner said of a whole file.
public enum ScanVerdict: Equatable, Sendable {
    case clean
    /// `signature`: the scanner's name for what it found (e.g. `Eicar-Signature`).
    case infected(signature: String)
}
