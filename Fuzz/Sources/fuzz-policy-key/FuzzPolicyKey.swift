// Key normalisation: PolicyKey.resolve over the key of a socketmap request, DomainName.normalize over a
// `domain` field, MXPattern over an mx value. Input: the text (invalid UTF-8 is read with U+FFFD).
import STSCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let key = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)

    let resolved = PolicyKey.resolve(key)
    if case .domain(let name) = resolved {
        checkNormalized(name, from: key)
        check(PolicyKey.resolve(name) == resolved, "resolving \(key.debugDescription) again as \(name) gives \(PolicyKey.resolve(name))")

        // Postfix's other spellings of the same next hop resolve to the same domain.
        let plain = !key.contains(where: { $0 == ":" || $0 == "[" || $0 == "]" })
        if plain && key.utf8.count < DomainName.maxInputBytes {
            for variant in ["[\(key)]", "[\(key)]:25", "\(key):587", asciiUppercased(key)] {
                let other = PolicyKey.resolve(variant)
                check(other == resolved, "\(variant.debugDescription) resolves to \(other), \(key.debugDescription) to \(resolved)")
            }
            if let last = key.unicodeScalars.last, !separators.contains(last) {
                let dotted = PolicyKey.resolve(key + ".")
                check(dotted == resolved, "\((key + ".").debugDescription) resolves to \(dotted), without the dot to \(resolved)")
            }
        }
        if case .domain(let probe) = PolicyKey.resolve("." + key) {
            fail("the parent-domain probe .\(key.debugDescription) resolved to \(probe)")
        }
    }

    do {
        let name = try DomainName.normalize(key)
        checkNormalized(name, from: key)
    } catch {
        check(error.kind == .invalidDomain, "normalize threw \(error.kind) for \(key.debugDescription)")
    }

    if let pattern = MXPattern(key) {
        checkNormalized(pattern.baseName, from: key, for: .mxHost)
        check(MXPattern(pattern.pattern) == pattern, "mx pattern \(pattern.pattern) does not read back as itself")
        check(pattern.postfixMatch == (pattern.isWildcard ? "." + pattern.baseName : pattern.baseName), "postfix form of \(pattern.pattern)")
        if pattern.isWildcard {
            check(pattern.matches(host: "mx." + pattern.baseName), "\(pattern.pattern) does not match a host one label below")
            check(!pattern.matches(host: pattern.baseName), "\(pattern.pattern) matches its own base name")
            check(!pattern.matches(host: "a.b." + pattern.baseName), "\(pattern.pattern) matches two labels below")
        } else {
            check(pattern.matches(host: pattern.pattern), "\(pattern.pattern) does not match itself")
            check(pattern.matches(host: pattern.pattern.uppercased() + "."), "\(pattern.pattern) does not match itself in upper case with a dot")
        }
    }
    return 0
}

let separators: Set<Unicode.Scalar> = [".", "\u{3002}", "\u{FF0E}", "\u{FF61}"]

/// A normalised name is lower-case LDH ASCII, passes the strict check for its use (an mx value may be
/// one label, or end in digits), and normalises to itself.
func checkNormalized(_ name: String, from key: String, for use: DomainName.Use = .policyDomain) {
    check(DomainName.isValidHostname(name, for: use), "\(key.debugDescription) gave \(name.debugDescription), which is not a valid host name")
    check(name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E },
        "\(key.debugDescription) gave \(name.debugDescription), which is not lower-case LDH")
    check(name.utf8.count <= DomainName.maxNameBytes, "\(key.debugDescription) gave a name longer than \(DomainName.maxNameBytes)")
    do {
        let again = try DomainName.normalize(name, for: use)
        check(again == name, "normalising \(name) again gives \(again)")
    } catch {
        fail("normalising \(name) (from \(key.debugDescription)) again fails: \(error)")
    }
}

func asciiUppercased(_ text: String) -> String {
    String(decoding: text.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    preconditionFailure("fuzz-policy-key: " + message)
}
