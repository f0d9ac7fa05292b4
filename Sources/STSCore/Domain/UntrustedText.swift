/// Renders attacker-controlled text for an error message: quoted, control characters escaped, and cut
/// short, so a 64 KiB policy line or an escape sequence never lands whole in a log or a JSON record.
public enum UntrustedText {
    /// Characters shown before the text is cut with "…".
    static let maxShownScalars = 64

    public static func quoted(_ text: String) -> String {
        var shown = ""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == maxShownScalars {
                shown += "…"
                break
            }
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                shown += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default:
                shown.unicodeScalars.append(scalar)
            }
        }
        return "\"" + shown + "\""
    }

    /// Bytes that may not be UTF-8: invalid sequences are shown as U+FFFD.
    public static func quoted<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        quoted(String(decoding: bytes, as: UTF8.self))
    }
}
