import Foundation

public enum Disposition: String { case attachment, inline }
