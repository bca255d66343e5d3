import Foundation
import SLAConfig
import SLACore
import SLAIngest

/// The shipped Volvo mapping, loaded once (the fuzz runs from the repository root).
let mapping: SourceMapping = {
    let folder = ProcessInfo.processInfo.environment["SLAD_FUZZ_CONFIG"] ?? "etc/slad"
    guard let config = try? ConfigLoader.load(directory: folder), let m = config.mappings["volvo-bpic2013"] else {
        fatalError("fuzz: cannot load \(folder); run from the repository root or set SLAD_FUZZ_CONFIG")
    }
    return m
}()

/// A CSV export through the reader and the status-snapshot mapper: rows become events,
/// skips or located errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var reader = CSVReader(bytes: bytes, delimiter: UInt8(ascii: ","))
    while let record = reader.next() { _ = record.fields.count }
    let mapped = SnapshotMapper.read(bytes: bytes, mapping: mapping)
    for e in mapped.events { _ = e.refusal }
    return 0
}
