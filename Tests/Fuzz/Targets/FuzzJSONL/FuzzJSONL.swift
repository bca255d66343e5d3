import SLACore
import SLAIngest

/// One JSON Lines line through the fast decoder: a line is an event or a line error, never a
/// crash; an accepted event is refused or admitted by the daemon's own checks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let decoder = JSONLEventDecoder(source: "fuzz")
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if case .success(let event) = decoder.decode(bytes: bytes, number: 1) {
        _ = event.refusal
    }
    _ = decoder.decodeAll(String(decoding: bytes, as: UTF8.self))
    return 0
}
