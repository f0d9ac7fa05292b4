// The socketmap framing: NetstringDecoder over bytes a Postfix client (or anyone who can connect) sends,
// SocketmapRequest over each payload, and the replies we frame with NetstringEncoder.
//
// Input: byte 0 picks the payload bound (0...127, or Postfix's 10000 when >= 128), byte 1 the size of
// the pieces the stream arrives in; the rest is the stream.
import STSCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let maxPayload = data[0] < 128 ? Int(data[0]) : 10_000
    let pieceSize = Int(data[1] % 32) + 1
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    let whole = decode(stream, maxPayload: maxPayload, pieceSize: stream.count + 1)
    let pieces = decode(stream, maxPayload: maxPayload, pieceSize: pieceSize)
    check(whole.payloads == pieces.payloads && whole.failure == pieces.failure,
        "decoding in pieces of \(pieceSize) gave another result than decoding at once")

    // Every payload is exactly what the stream framed: digits giving its length, ':', the bytes, ','.
    var position = 0
    for payload in whole.payloads {
        check(payload.count <= maxPayload, "a payload of \(payload.count) bytes passed the bound of \(maxPayload)")
        var length = 0
        var digits = 0
        while stream[position] != UInt8(ascii: ":") {
            check(stream[position] >= 0x30 && stream[position] <= 0x39, "a frame's length has a non-digit")
            length = length * 10 + Int(stream[position] - 0x30)
            digits += 1
            position += 1
        }
        check(digits > 0 && length == payload.count, "a frame's length does not match its payload")
        position += 1
        check(Array(stream[position..<position + length]) == payload, "a payload is not the bytes of its frame")
        position += length
        check(stream[position] == UInt8(ascii: ","), "a frame does not end with ','")
        position += 1
    }
    if whole.failure == nil {
        check(position + whole.pending == stream.count, "bytes were lost or invented between frames")
    }

    // What we decoded, encoded again, decodes to the same payloads and nothing else.
    let reencoded = whole.payloads.flatMap { NetstringEncoder.encode($0) }
    let again = decode(reencoded, maxPayload: maxPayload, pieceSize: reencoded.count + 1)
    check(again.payloads == whole.payloads && again.failure == nil && again.pending == 0,
        "re-encoded payloads do not decode to themselves")

    for payload in whole.payloads {
        checkRequest(payload)
        checkReplies(String(decoding: payload, as: UTF8.self))
    }
    return 0
}

struct Decoded {
    var payloads: [[UInt8]] = []
    var failure: NetstringDecoder.Failure?
    var pending = 0
}

/// Feeds the stream in pieces, taking every payload after each piece, as the socketmap handler does.
func decode(_ stream: [UInt8], maxPayload: Int, pieceSize: Int) -> Decoded {
    var decoder = NetstringDecoder(maxPayload: maxPayload)
    // A decoder holds at most a length, ':' and a payload without its ','.
    let bound = String(maxPayload).count + 1 + maxPayload
    var result = Decoded()
    var offset = 0
    repeat {
        let end = min(offset + pieceSize, stream.count)
        decoder.append(stream[offset..<end])
        offset = end
        do {
            while let payload = try decoder.next() {
                result.payloads.append(payload)
            }
            check(decoder.pendingByteCount <= bound,
                "the decoder holds \(decoder.pendingByteCount) bytes waiting for a frame, more than \(bound)")
        } catch {
            result.failure = error
            // A failed stream stays failed, whatever comes after.
            decoder.append([UInt8]("1:a,".utf8))
            do {
                _ = try decoder.next()
                fail("the decoder went on after \(error)")
            } catch let again {
                check(again == error, "the decoder failed with \(again) after \(error)")
            }
            return result
        }
    } while offset < stream.count
    result.pending = decoder.pendingByteCount
    return result
}

/// A request is NAME, one space, KEY, both non-empty UTF-8 without control characters.
func checkRequest(_ payload: [UInt8]) {
    guard let request = SocketmapRequest(payload: payload) else { return }
    check(!request.name.isEmpty && !request.key.isEmpty, "a request with an empty name or key")
    check(!request.name.utf8.contains(0x20), "a request name with a space")
    check(Array(request.name.utf8) + [0x20] + Array(request.key.utf8) == payload, "a request is not its payload")
    check(!payload.contains(where: { $0 < 0x20 || $0 == 0x7F }), "a request with a control character")
}

/// Replies carrying text from outside are one printable ASCII line of bounded length, and each reply's
/// frame is accepted by a decoder bounded at its size and refused by one a byte smaller.
func checkReplies(_ text: String) {
    for reply in [SocketmapReply.temp(text), .timeout(text), .perm(text)] {
        let payload = Array(reply.payload.utf8)
        check(payload.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "a reply with a byte that is not printable ASCII")
        check(payload.count <= "TIMEOUT ".count + 512, "a reply of \(payload.count) bytes, over the bound")
        checkFrame(reply)
    }
    checkFrame(.ok(text))
    checkFrame(.notFound)
}

func checkFrame(_ reply: SocketmapReply) {
    let payload = Array(reply.payload.utf8)
    let frame = reply.netstring
    var fits = NetstringDecoder(maxPayload: payload.count)
    fits.append(frame)
    check((try? fits.next()) == payload && fits.pendingByteCount == 0, "a reply's frame does not decode to its payload")
    guard payload.count > 0 else { return }
    var tooSmall = NetstringDecoder(maxPayload: payload.count - 1)
    tooSmall.append(frame)
    do {
        _ = try tooSmall.next()
        fail("a frame of \(payload.count) bytes passed a decoder bounded at \(payload.count - 1)")
    } catch {
        check(error == .tooLong(payload.count - 1), "a frame over the bound failed with \(error)")
    }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    preconditionFailure("fuzz-netstring: " + message)
}
