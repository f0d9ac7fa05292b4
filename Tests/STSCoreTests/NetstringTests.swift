import STSCore
import XCTest

final class NetstringTests: XCTestCase {
    func payloads(_ chunks: [String], max: Int = 10_000) throws -> [String] {
        var decoder = NetstringDecoder(maxPayload: max)
        var result: [String] = []
        for chunk in chunks {
            decoder.append(Array(chunk.utf8))
            while let payload = try decoder.next() { result.append(String(decoding: payload, as: UTF8.self)) }
        }
        return result
    }

    func testWholeAndPipelinedFrames() throws {
        XCTAssertEqual(try payloads(["19:postfix example.com,"]), ["postfix example.com"])
        XCTAssertEqual(try payloads(["3:abc,0:,5:hello,"]), ["abc", "", "hello"])
    }

    func testFramesSplitAtEveryByte() throws {
        let stream = "19:postfix example.com,7:postfix,"
        XCTAssertEqual(try payloads(stream.map { String($0) }), ["postfix example.com", "postfix"])
    }

    func testIncompleteFrameWaits() throws {
        var decoder = NetstringDecoder()
        decoder.append(Array("5:hel".utf8))
        XCTAssertNil(try decoder.next())
        decoder.append(Array("lo".utf8))
        XCTAssertNil(try decoder.next(), "the comma is still missing")
        decoder.append([UInt8(ascii: ",")])
        XCTAssertEqual(try decoder.next(), Array("hello".utf8))
        XCTAssertEqual(decoder.pendingByteCount, 0)
    }

    func testBytesInMemoryDecodeAsTheSequenceDoesAndTheBufferIsReused() throws {
        var decoder = NetstringDecoder(maxPayload: 99)
        var result: [String] = []
        // Pieces of every size, across frame boundaries, with whole frames consumed in between.
        let stream = Array("19:postfix example.com,0:,7:postfix,99:".utf8) + Array(repeating: UInt8(ascii: "a"), count: 99) + [UInt8(ascii: ",")]
        var start = 0
        var size = 1
        while start < stream.count {
            let end = min(stream.count, start + size)
            stream[start..<end].withUnsafeBytes { decoder.append($0) }
            while let payload = try decoder.next() { result.append(String(decoding: payload, as: UTF8.self)) }
            start = end
            size += 3
        }
        XCTAssertEqual(result, ["postfix example.com", "", "postfix", String(repeating: "a", count: 99)])
        XCTAssertEqual(decoder.pendingByteCount, 0)
        Array("100:".utf8).withUnsafeBytes { decoder.append($0) }
        XCTAssertThrowsError(try decoder.next()) { XCTAssertEqual($0 as? NetstringDecoder.Failure, .tooLong(99)) }
    }

    func testMalformedFrames() {
        for bad in ["x:abc,", ":abc,", "3:abcd", "3:abc;", "-1:a,", " 3:abc,", "3 :abc,"] {
            XCTAssertThrowsError(try payloads([bad]), bad)
        }
    }

    func testLengthIsBoundedBeforeBuffering() {
        XCTAssertEqual(try payloads(["10000:" + String(repeating: "a", count: 10000) + ","]).first?.count, 10000)
        XCTAssertThrowsError(try payloads(["10001:"])) { XCTAssertEqual($0 as? NetstringDecoder.Failure, .tooLong(10000)) }
        XCTAssertThrowsError(try payloads(["999999999999999999999999"]), "endless digits")
    }

    func testFailureIsSticky() throws {
        var decoder = NetstringDecoder()
        decoder.append(Array("3:abc,x:".utf8))
        XCTAssertEqual(try decoder.next(), Array("abc".utf8), "replies already due come first")
        XCTAssertThrowsError(try decoder.next())
        decoder.append(Array("3:abc,".utf8))
        XCTAssertThrowsError(try decoder.next())
    }

    func testEncoder() {
        XCTAssertEqual(String(decoding: NetstringEncoder.encode("OK secure"), as: UTF8.self), "9:OK secure,")
        XCTAssertEqual(String(decoding: NetstringEncoder.encode(""), as: UTF8.self), "0:,")
        XCTAssertEqual(NetstringEncoder.encode("é").count, "2:é,".utf8.count)
        // In two pieces, as replies are written: the same bytes as the joined payload, at every length's
        // number of digits.
        for (first, second) in [("NOTFOUND ", ""), ("", ""), ("OK ", "é"), ("OK ", String(repeating: "a", count: 6)),
                                ("OK ", String(repeating: "b", count: 97)), ("TEMP ", String(repeating: "c", count: 99_995))] {
            XCTAssertEqual(NetstringEncoder.encode(first, second), NetstringEncoder.encode(first + second))
            XCTAssertEqual(NetstringEncoder.encodedCount(first, second), NetstringEncoder.encode(first + second).count)
        }
    }
}

final class SocketmapTests: XCTestCase {
    func testRequest() {
        XCTAssertEqual(SocketmapRequest(payload: Array("postfix example.com".utf8)), SocketmapRequest(name: "postfix", key: "example.com"))
        XCTAssertEqual(SocketmapRequest(payload: Array("postfix a b".utf8))?.key, "a b")
        XCTAssertNil(SocketmapRequest(payload: Array("postfix".utf8)))
        XCTAssertNil(SocketmapRequest(payload: Array(" example.com".utf8)))
        XCTAssertNil(SocketmapRequest(payload: Array("postfix ".utf8)))
        XCTAssertNil(SocketmapRequest(payload: Array("postfix exa\nmple.com".utf8)))
        XCTAssertNil(SocketmapRequest(payload: [0x70, 0x20, 0xFF]))
        XCTAssertNil(SocketmapRequest(payload: Array("postfix example.com\u{7F}".utf8)))
        XCTAssertNil(SocketmapRequest(payload: Array("postfix b\u{FC}cher.example".utf8.dropLast(10)) + [0xC3]), "a UTF-8 sequence cut short")
        XCTAssertEqual(SocketmapRequest(payload: Array("postfix bücher.example".utf8))?.key, "bücher.example")
        XCTAssertEqual(SocketmapRequest(payload: Array("zöne example.com".utf8)), SocketmapRequest(name: "zöne", key: "example.com"))
        XCTAssertNil(SocketmapRequest(payload: Array("postfix ".utf8) + [0xE2, 0x82]), "not UTF-8")
    }

    func testReplies() {
        XCTAssertEqual(SocketmapReply.ok("secure match=a.example").payload, "OK secure match=a.example")
        XCTAssertEqual(SocketmapReply.notFound.payload, "NOTFOUND ")
        XCTAssertEqual(SocketmapReply.temp("dns\nfailure").payload, "TEMP dns?failure")
        XCTAssertEqual(String(decoding: SocketmapReply.notFound.netstring, as: UTF8.self), "9:NOTFOUND ,")
    }
}

final class PolicyKeyTests: XCTestCase {
    func testKeyForms() {
        let cases: [(String, PolicyKey)] = [
            ("example.com", .domain("example.com")),
            ("EXAMPLE.COM", .domain("example.com")),
            ("example.com.", .domain("example.com")),
            ("[example.com]", .domain("example.com")),
            ("[example.com]:587", .domain("example.com")),
            ("example.com:587", .domain("example.com")),
            ("[Mail.Example.COM.]:25", .domain("mail.example.com")),
            ("bücher.example", .domain("xn--bcher-kva.example")),
            ("[bücher.example]:25", .domain("xn--bcher-kva.example")),
            // A service name for the port (postconf(5) relayhost: "[mail.example]:submission").
            ("[example.com]:submission", .domain("example.com")),
            ("example.com:smtp", .domain("example.com")),
            ("[example.com]:x400-snd", .domain("example.com")),
            ("[example.com]:3com_amp3", .domain("example.com")),
        ]
        for (key, expected) in cases { XCTAssertEqual(PolicyKey.resolve(key), expected, key) }
    }

    func testKeysWithoutAPolicy() {
        for key in [".example.com", "[192.0.2.1]", "[192.0.2.1]:25", "192.0.2.1", "192.0.2.1:25", "[ipv6:2001:db8::1]", "[2001:db8::1]",
                    "2001:db8::1", "::1", "[example.com", "[example.com]x", "example.com:", "example.com:123456", "[example.com]:-smtp", "example.com:sub mission",
                    "[example.com]:a.b", "example.com:\(String(repeating: "s", count: 33))", "[example.com]:123456",
                    "", "localhost", "a..example", "exa mple.com"]
        {
            guard case .noPolicy = PolicyKey.resolve(key) else { return XCTFail("\(key) must have no policy") }
        }
    }
}
