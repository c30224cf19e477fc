import Foundation

/// A tiny XML reader for S3's answers: elements, text, entities, CDATA;
/// attributes and namespaces are ignored. Returns nil on malformed input.
enum MiniXML {
    static func parse(_ bytes: [UInt8]) -> XMLNode? {
        var stack: [XMLNode] = []
        var root: XMLNode?
        var i = 0
        let n = bytes.count

        func find(_ pattern: [UInt8], from start: Int) -> Int? {
            guard pattern.count <= n else { return nil }
            var j = start
            while j + pattern.count <= n {
                if bytes[j] == pattern[0] && Array(bytes[j..<j + pattern.count]) == pattern { return j }
                j += 1
            }
            return nil
        }
        func startsWith(_ s: String, at j: Int) -> Bool {
            let p = Array(s.utf8)
            return j + p.count <= n && Array(bytes[j..<j + p.count]) == p
        }
        func localName(_ raw: Substring) -> String {
            if let colon = raw.lastIndex(of: ":") { return String(raw[raw.index(after: colon)...]) }
            return String(raw)
        }
        /// Hangs a finished element under its parent; false for a second root.
        func attach(_ node: XMLNode) -> Bool {
            if stack.isEmpty {
                if root != nil { return false }
                root = node
            } else {
                stack[stack.count - 1].children.append(node)
            }
            return true
        }

        while i < n {
            if bytes[i] != UInt8(ascii: "<") {
                var j = i
                while j < n && bytes[j] != UInt8(ascii: "<") { j += 1 }
                if !stack.isEmpty {
                    stack[stack.count - 1].text += decodeEntities(String(decoding: bytes[i..<j], as: UTF8.self))
                }
                i = j
                continue
            }
            if startsWith("<?", at: i) {
                guard let end = find(Array("?>".utf8), from: i + 2) else { return nil }
                i = end + 2
            } else if startsWith("<!--", at: i) {
                guard let end = find(Array("-->".utf8), from: i + 4) else { return nil }
                i = end + 3
            } else if startsWith("<![CDATA[", at: i) {
                guard let end = find(Array("]]>".utf8), from: i + 9) else { return nil }
                if !stack.isEmpty {
                    stack[stack.count - 1].text += String(decoding: bytes[(i + 9)..<end], as: UTF8.self)
                }
                i = end + 3
            } else if startsWith("<!", at: i) {
                guard let end = find([UInt8(ascii: ">")], from: i + 2) else { return nil }
                i = end + 1
            } else {
                guard let end = find([UInt8(ascii: ">")], from: i + 1) else { return nil }
                var inner = String(decoding: bytes[(i + 1)..<end], as: UTF8.self)[...]
                i = end + 1
                if inner.hasPrefix("/") {
                    let name = localName(inner.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines)[...])
                    guard let node = stack.popLast(), node.name == name, attach(node) else { return nil }
                } else {
                    let selfClosing = inner.hasSuffix("/")
                    if selfClosing { inner = inner.dropLast() }
                    let rawName = inner.prefix { !$0.isWhitespace }
                    guard !rawName.isEmpty else { return nil }
                    let node = XMLNode(name: localName(rawName))
                    if selfClosing {
                        guard attach(node) else { return nil }
                    } else {
                        stack.append(node)
                    }
                }
            }
        }
        return stack.isEmpty ? root : nil
    }

    /// XML's five predefined entities, read by `decodeEntities` and written by `escape`.
    private static let entities: [(name: String, character: Character)] = [
        ("amp", "&"), ("lt", "<"), ("gt", ">"), ("quot", "\""), ("apos", "'"),
    ]

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"),
                  rest.distance(from: amp, to: semi) <= 10 else {
                out += rest[amp...]
                return out
            }
            let entity = rest[rest.index(after: amp)..<semi]
            if let named = entities.first(where: { $0.name == entity }) {
                out.append(named.character)
            } else {
                var scalar: Unicode.Scalar?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
                }
                if let scalar { out.unicodeScalars.append(scalar) } else { out += rest[amp...semi] }
            }
            rest = rest[rest.index(after: semi)...]
        }
        out += rest
        return out
    }

    /// Escapes text for an XML element body.
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            if let named = entities.first(where: { $0.character == ch }) {
                out += "&" + named.name + ";"
            } else {
                out.append(ch)
            }
        }
        return out
    }
}
