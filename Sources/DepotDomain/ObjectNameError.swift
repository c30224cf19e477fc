import Foundation

public enum ObjectNameError: Error, Equatable { case invalid(String) }
