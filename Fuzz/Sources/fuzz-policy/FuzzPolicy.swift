// The policy file: PolicyParser over the fetched body, the policy's JSON form, and the answer Postfix
// gets for it (TLSPolicyAnswer). Input: the body.
import STSCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let result = parse(body)

    if let text = String(validating: body, as: UTF8.self) {
        let fromString: Result<Policy, STSError> = Result { () throws(STSError) in try PolicyParser.parse(text) }
        check(fromString == result, "parsing the text and its bytes differ")
    }
    // CRLF line ends mean the same as LF.
    if !body.contains(0x0D) {
        let crlf = body.flatMap { $0 == 0x0A ? [0x0D, 0x0A] : [$0] }
        if crlf.count <= PolicyParser.maxBodyBytes {
            let other = parse(crlf)
            check(sameOutcome(other, result), "with CRLF line ends the policy reads as \(other), with LF as \(result)")
        }
    }

    guard case .success(let policy) = result else { return 0 }
    check(policy.version == "STSv1", "version \(policy.version)")
    check((0...PolicyParser.maxAgeLimit).contains(policy.maxAge), "max_age \(policy.maxAge)")
    check(policy.mode == .none || !policy.mx.isEmpty, "mode \(policy.mode) without mx")
    check(policy.mx.count <= PolicyParser.maxMXPatterns, "\(policy.mx.count) mx patterns")
    check(Set(policy.mx).count == policy.mx.count, "duplicate mx patterns")
    for pattern in policy.mx {
        check(DomainName.isValidHostname(pattern.baseName, for: .mxHost), "mx \(pattern.pattern.debugDescription) fails the strict host name check")
        check(pattern.pattern == pattern.baseName || pattern.pattern == "*." + pattern.baseName, "mx \(pattern.pattern.debugDescription)")
    }
    for line in policy.lines {
        check(!line.utf8.contains(0x0A) && !line.utf8.contains(0x0D), "a policy line with a line end")
    }

    // The JSON form reads back as the same policy, also after a trip through the writer and parser.
    check(Policy(json: policy.json) == policy, "the policy's JSON form reads back as \(String(describing: Policy(json: policy.json)))")
    let written = JSONWriter.bytes(policy.json)
    do {
        let reread = try JSONParser.parse(written)
        check(reread == policy.json, "the policy's JSON does not read back as written")
    } catch {
        fail("the policy's JSON is refused by the parser: \(error)")
    }

    // Written out again as a plain policy file, it reads back the same (extension lines aside).
    var file = "version: STSv1\r\nmode: \(policy.mode.rawValue)\r\nmax_age: \(policy.maxAge)\r\n"
    for pattern in policy.mx { file += "mx: \(pattern.pattern)\r\n" }
    switch parse(Array(file.utf8)) {
    case .success(let again):
        check(again.mode == policy.mode && again.maxAge == policy.maxAge && again.mx == policy.mx, "the policy written again reads as \(again)")
    case .failure(let error):
        fail("the policy written again is refused: \(error)")
    }

    for requireSNI in [false, true] {
        for strictTesting in [false, true] {
            for tlsrpt in [false, true] {
                checkAnswer(policy, ZoneOptions(requireSNI: requireSNI, strictTesting: strictTesting, tlsrpt: tlsrpt))
            }
        }
    }
    return 0
}

func parse(_ body: [UInt8]) -> Result<Policy, STSError> {
    do {
        return .success(try PolicyParser.parse(body))
    } catch {
        check(error.kind == .stsPolicyInvalid, "a refused policy has kind \(error.kind)")
        return .failure(error)
    }
}

/// Same policy, or both refused (the messages may name other lines or bytes).
func sameOutcome(_ a: Result<Policy, STSError>, _ b: Result<Policy, STSError>) -> Bool {
    switch (a, b) {
    case (.success(let x), .success(let y)): x == y
    case (.failure, .failure): true
    default: false
    }
}

/// What Postfix gets: one line of printable ASCII within its reply limit, `secure match=` and only
/// checked host names, braces only around whole policy strings.
func checkAnswer(_ policy: Policy, _ options: ZoneOptions) {
    switch TLSPolicyAnswer.render(policy, domain: "example.com", options: options) {
    case .noPolicy:
        check(policy.mode == .none || (policy.mode == .testing && !options.strictTesting), "no answer for a \(policy.mode) policy")
    case .tooLarge(let size):
        check(size > TLSPolicyAnswer.maxValueBytes, "an answer of \(size) bytes called too large")
    case .policy(let value):
        check(policy.mode == .enforce || (policy.mode == .testing && options.strictTesting), "an answer for a \(policy.mode) policy")
        let bytes = Array(value.utf8)
        check(bytes.count <= TLSPolicyAnswer.maxValueBytes, "an answer of \(bytes.count) bytes")
        check(bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "an answer with a byte that is not printable ASCII")
        check(value.hasPrefix("secure match="), "answer \(value.debugDescription)")
        var rest = value.dropFirst("secure match=".count)
        let match = rest.prefix { $0 != " " }
        rest = rest.dropFirst(match.count)
        for item in match.split(separator: ":", omittingEmptySubsequences: false) {
            let name = item.hasPrefix(".") ? item.dropFirst() : item
            check(DomainName.isValidHostname(String(name), for: .mxHost), "match= has \(String(item).debugDescription)")
        }
        // Outside the policy strings only attributes we write, with values from checked names.
        var outside = ""
        var depth = 0
        for character in rest {
            switch character {
            case "{":
                depth += 1
                check(depth == 1, "nested braces in an answer")
            case "}":
                depth -= 1
                check(depth == 0, "an unbalanced brace in an answer")
            default:
                if depth == 0 { outside.append(character) }
            }
        }
        check(depth == 0, "an unclosed brace in an answer")
        for attribute in outside.split(separator: " ") {
            let allowed = ["servername=hostname", "policy_type=sts", "policy_domain=example.com"]
            if allowed.contains(String(attribute)) { continue }
            guard attribute.hasPrefix("mx_host_pattern=") else { fail("answer attribute \(String(attribute).debugDescription)") }
            let pattern = attribute.dropFirst("mx_host_pattern=".count)
            check(policy.mx.contains { $0.pattern == pattern }, "mx_host_pattern=\(pattern) is not a policy pattern")
        }
    }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    preconditionFailure("fuzz-policy: " + message)
}
