extension StringProtocol {
    /// The text without any of `characters` at either end (`" \t"`, `"[]"`...): a Foundation-free
    /// trim for the few places that take text apart by hand.
    public func trimming(_ characters: String) -> String {
        var result = self[...]
        while let first = result.first, characters.contains(first) { result = result.dropFirst() }
        while let last = result.last, characters.contains(last) { result = result.dropLast() }
        return String(result)
    }
}
