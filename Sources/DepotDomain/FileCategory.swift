import Foundation

public enum FileCategory: String, CaseIterable {
    case dataSource = "data_source"
    case profileImage = "profile_image"
    case general

    public static let profileImageMaxBytes: Int64 = 5 * 1024 * 1024
}
