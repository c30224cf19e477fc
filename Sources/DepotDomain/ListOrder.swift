import Foundation

public enum ListOrder: String { case asc, desc }
