// The daemon's config file: ConfigLoader over YAMLReader (libyaml). Input: the file.
import STSConfig
import STSCore

let file = "/etc/mta-sts-daemon.yml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = Array(UnsafeBufferPointer(start: data, count: size))
    // libyaml may point just past the last line; UTF-16 files are not counted, only bounded.
    let utf16 = text.starts(with: [0xFF, 0xFE]) || text.starts(with: [0xFE, 0xFF])
    let lastLine = (utf16 ? text.count : lineBreaks(text)) + 2

    let first: Result<ConfigLoader.Loaded, ConfigError>
    do {
        first = .success(try ConfigLoader.load(text, file: file))
    } catch {
        first = .failure(error)
    }

    switch first {
    case .failure(let error):
        checkPlace(error, lastLine: lastLine, lineRequired: false)
        check(!error.message.isEmpty, "an error without a message")
    case .success(let loaded):
        checkRanges(loaded.config)
        for warning in loaded.warnings {
            // The key path may be empty: YAML allows a null key (`? `), which is unknown like any other.
            checkPlace(warning, lastLine: lastLine, lineRequired: true)
        }
    }

    // Reading the same file twice gives the same answer.
    do {
        let again = try ConfigLoader.load(text, file: file)
        guard case .success(let loaded) = first else { fail("a file was refused, then accepted") }
        check(again.config == loaded.config && again.warnings == loaded.warnings, "a file read twice gave two configs")
    } catch {
        guard case .failure(let earlier) = first else { fail("a file was accepted, then refused: \(error)") }
        check(error == earlier, "a file read twice gave two errors: \(earlier) and \(error)")
    }
    return 0
}

/// Every error says `file:line: key: message` with the file it was given and a line in the file.
func checkPlace(_ error: ConfigError, lastLine: Int, lineRequired: Bool) {
    check(error.file == file, "an error names \(error.file.debugDescription)")
    check(error.line >= (lineRequired ? 1 : 0) && error.line <= lastLine, "an error at line \(error.line) of a file of \(lastLine - 2) line breaks: \(error)")
    let place = error.line > 0 ? "\(file):\(error.line): " : "\(file): "
    // Bytes, not Characters: a key may begin with a combining mark.
    check(error.description.utf8.starts(with: place.utf8), "error text \(error.description.debugDescription)")
}

/// Every value the loader lets through is within the range the daemon relies on.
func checkRanges(_ config: DaemonConfig) {
    check(!config.host.isEmpty, "an empty host")
    check((1...65535).contains(config.port), "port \(config.port)")
    if let path = config.path { check(!path.isEmpty, "an empty socket path") }
    if let mode = config.mode { check((0...0o7777).contains(mode), "socket mode \(mode)") }
    check((0...3600).contains(config.shutdownTimeout), "shutdown_timeout \(config.shutdownTimeout)")
    check((0...31_557_600).contains(config.cacheGrace), "cache_grace \(config.cacheGrace)")
    check((1...100_000_000).contains(config.cache.cacheSize), "cache_size \(config.cache.cacheSize)")
    if config.cache.type == .sqlite {
        guard case .scalar(let name, _, _)? = config.cache.options["filename"], !name.isEmpty else {
            fail("an sqlite cache without a file name")
        }
    }
    let proactive = config.proactivePolicyFetching
    check((1...31_557_600).contains(proactive.interval), "interval \(proactive.interval)")
    check((1...10_000).contains(proactive.concurrencyLimit), "concurrency_limit \(proactive.concurrencyLimit)")
    check((0.001...1_000_000).contains(proactive.graceRatio), "grace_ratio \(proactive.graceRatio)")
    for zone in [config.defaultZone] + Array(config.zones.values) {
        check((0.001...100).contains(zone.timeout), "zone timeout \(zone.timeout)")
    }
    if let listen = config.metricsListen { check(!listen.isEmpty, "an empty metrics.listen") }
}

/// Line breaks as YAML counts them: LF, CR, CR LF, NEL, LS, PS.
func lineBreaks(_ text: [UInt8]) -> Int {
    var count = 0
    var index = 0
    while index < text.count {
        switch text[index] {
        case 0x0A: count += 1
        case 0x0D: if index + 1 >= text.count || text[index + 1] != 0x0A { count += 1 }
        case 0xC2: if index + 1 < text.count && text[index + 1] == 0x85 { count += 1 }
        case 0xE2: if index + 2 < text.count && text[index + 1] == 0x80 && (text[index + 2] == 0xA8 || text[index + 2] == 0xA9) { count += 1 }
        default: break
        }
        index += 1
    }
    return count
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    preconditionFailure("fuzz-config: " + message)
}
