import Foundation

public enum FileSort: String { case uploadedAt = "uploaded_at", size, originalFilename = "original_filename" }
