// libFuzzer target: the object-key rules (DepotDomain) as the routes use them:
// a route's `{object_name}` is percent-decoded (DepotEncoding) and resolved
// against the caller's folder; upload names become keys; download headers
// carry the original name.
//
// Invariants beyond "no crash":
// - `resolve` refuses exactly what `validateKeySyntax` refuses;
// - an `.own` result's key is the caller's folder + a name with no '/', no
//   '\', no control character, no '..' segment, not starting with '.'; resolving
//   the key or the name again gives the same answer; another user of the
//   same organization never gets `.own` for the same key;
// - a key made from any upload name resolves as `.own` to itself, and a
//   workflow key is recognized as one and is never a user's own;
// - the Content-Disposition built from any name is printable ASCII with no
//   quote inside `filename="…"`, and `filename*` decodes back to the name;
// - percent-encoding round-trips;
// - a signed download link verifies for its key only.
import DepotCrypto
@testable import DepotDomain
import DepotEncoding
import Foundation

private let org = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
private let user = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
private let otherUser = "9b2c1f3e-5a6d-4e7f-8a9b-0c1d2e3f4a5b"
private let workflow = "6f1c9f0e-8d2a-4b7e-9c1a-3e5f7a9b1c2d"
private let run = "0b7e5c3a-1d2f-4e6a-8b9c-7d5e3f1a2b4c"
private let folder = ObjectKeys.userFolder(organizationID: org, userID: user)
private let signer = DownloadLinkSigner(secret: Array("fuzz-link-secret-0123456789abcdef".utf8))

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant violated: \(message())") }
}

private func resolve(_ s: String, _ u: String = user) -> Result<ObjectReference, ObjectNameError> {
    do { return .success(try ObjectKeys.resolve(s, organizationID: org, userID: u)) }
    catch let e as ObjectNameError { return .failure(e) }
    catch { fatalError("resolve threw \(error)") }
}

private func checkResolve(_ s: String) {
    let syntaxOK = (try? ObjectKeys.validateKeySyntax(s)) != nil
    let result = resolve(s)
    switch result {
    case .failure:
        check(!syntaxOK, "resolve refused what validateKeySyntax accepts: \(s.debugDescription)")
    case .success(.foreign):
        check(syntaxOK, "resolve accepted invalid syntax")
    case .success(.workflow(let key)):
        check(syntaxOK, "resolve accepted invalid syntax")
        check(key == s, "a workflow key is resolved to another key")
        check(key.hasPrefix("organizations/\(org)/workflows/"), "workflow key \(key.debugDescription) outside the caller's organization")
        check(ObjectKeys.isWorkflowKey(key), "a workflow reference that is no workflow key")
        check(!key.hasPrefix(folder), "a workflow key inside the caller's folder")
    case .success(.own(let key, let name)):
        check(syntaxOK, "resolve accepted invalid syntax")
        check(key.hasPrefix(folder), "own key \(key.debugDescription) outside the caller's folder")
        check(key == folder + name, "own key is not folder + name")
        check(!name.isEmpty && !name.hasPrefix("."), "own name empty or hidden: \(name.debugDescription)")
        check(!name.contains("/") && !name.contains("\\") && name != "..", "own name \(name.debugDescription) can traverse")
        check(!name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "control character in own name")
        check(!key.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == ".." || $0 == "." },
              "own key has an empty or relative segment")
        check((try? ObjectKeys.validateKeySyntax(key)) != nil, "own key fails the syntax check")
        check(!ObjectKeys.isWorkflowKey(key), "own key is a workflow key")
        check(resolve(key) == .success(.own(key: key, name: name)), "resolving the key again differs")
        check(resolve(name) == .success(.own(key: key, name: name)), "resolving the name again differs")
        if case .success(.own(let otherKey, _)) = resolve(s, otherUser) {
            check(otherKey != key, "two users own the same key \(key.debugDescription)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzObjectKeys(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: input, as: UTF8.self)

    // As a route sees it: raw path segment, percent-decoded, then judged.
    checkResolve(text)
    if let decoded = PercentEncoding.decode(text) {
        checkResolve(decoded)
        check(PercentEncoding.decode(PercentEncoding.encode(decoded)) == decoded, "percent-encoding does not round-trip")
    }

    // Keys made from upload names.
    let date = Date(timeIntervalSince1970: 1_800_000_000)
    let made = ObjectKeys.userFileKey(organizationID: org, userID: user, originalFilename: text, at: date, random: [1, 2, 3, 4])
    check(made.name.utf8.count <= 100 + 1 + 15 + 1 + 8 + 1 + 16, "generated name too long: \(made.name.count)")
    check(resolve(made.name) == .success(.own(key: made.key, name: made.name)), "generated name \(made.name.debugDescription) does not resolve to its key")
    check(resolve(made.key) == .success(.own(key: made.key, name: made.name)), "generated key does not resolve to itself")
    check(made.name.contains("_20270115_080000_01020304"), "generated name lacks time and random part: \(made.name)")
    let wf = ObjectKeys.workflowFileKey(organizationID: org, workflowID: workflow, runID: run, direction: .output,
                                        originalFilename: text, token: Array(repeating: 0xAB, count: 16))
    check(ObjectKeys.isWorkflowKey(wf.key), "generated workflow key \(wf.key.debugDescription) is not recognized")
    check(resolve(wf.key) == .success(.workflow(key: wf.key)), "a workflow key of the caller's organization is not a workflow reference")
    check(resolve(wf.name) != .success(.workflow(key: wf.key)), "a bare name resolved to a workflow key")

    // The download header built from the original name.
    for disposition in [Disposition.attachment, .inline] {
        let header = DownloadHeaders.contentDisposition(disposition, filename: text)
        check(header.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "Content-Disposition has a non-printable byte")
        let prefix = "\(disposition.rawValue); filename=\""
        check(header.hasPrefix(prefix), "Content-Disposition shape")
        let afterPrefix = header.dropFirst(prefix.count)
        guard let close = afterPrefix.firstIndex(of: "\"") else { fatalError("unterminated filename=") }
        let rest = afterPrefix[close...]
        check(rest.hasPrefix("\"; filename*=UTF-8''"), "quote inside filename=: \(header)")
        let encoded = rest.dropFirst("\"; filename*=UTF-8''".count)
        check(!encoded.contains(";") && !encoded.contains(" ") && !encoded.contains("\""), "filename* not a single token")
        check(PercentEncoding.decode(encoded) == text, "filename* does not decode to the name")
    }

    // Download links verify for their key only.
    let signature = signer.signature(objectKey: text, disposition: .attachment, expires: 2_000_000_000)
    check(signer.isValid(objectKey: text, disposition: .attachment, expires: 2_000_000_000, signature: signature, now: 1_900_000_000),
          "a fresh link does not verify")
    check(!signer.isValid(objectKey: text + "x", disposition: .attachment, expires: 2_000_000_000, signature: signature, now: 1_900_000_000),
          "a link verifies for another key")
    check(!signer.isValid(objectKey: text, disposition: .inline, expires: 2_000_000_000, signature: signature, now: 1_900_000_000),
          "a link verifies for another disposition")
    check(!signer.isValid(objectKey: text, disposition: .attachment, expires: 2_000_000_000, signature: signature, now: 2_000_000_001),
          "an expired link verifies")
    return 0
}
