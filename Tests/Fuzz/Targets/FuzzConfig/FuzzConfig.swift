import Foundation
import SLAConfig

/// A configuration folder of this process, with a working calendar, a contract and slad.yaml.
let folder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("slad-fuzz-config-\(getpid())")
    try? FileManager.default.createDirectory(
        at: url.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
    try? FileManager.default.createDirectory(
        at: url.appendingPathComponent("calendars"), withIntermediateDirectories: true)
    try? FileManager.default.createDirectory(
        at: url.appendingPathComponent("sources"), withIntermediateDirectories: true)
    try? "timezone: Europe/Moscow\nhours:\n  mon-fri: [\"09:00-18:00\"]\n".write(
        to: url.appendingPathComponent("calendars/msk.yaml"), atomically: true, encoding: .utf8)
    return url
}()

/// The files the input can become.
let files = ["slad.yaml", "contracts.d/fuzz.yaml", "calendars/fuzz.yaml", "sources/fuzz.yaml"]

/// The input becomes one file of the folder (its first byte chooses which), beside a working
/// calendar and contract: whatever the bytes, the loader answers with a configuration or
/// located errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let target = files[Int(data[0]) % files.count]
    let body = Data(UnsafeBufferPointer(start: data + 1, count: size - 1))
    for file in files {
        try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
    }
    if target != "contracts.d/fuzz.yaml" {
        try?
            "id: base\ncustomer: Base\ncalendar: msk\nfee: { amount: \"1.00\", currency: EUR }\npriorities:\n  P1: { reaction: 1h }\n"
            .write(to: folder.appendingPathComponent("contracts.d/fuzz.yaml"), atomically: false, encoding: .utf8)
    }
    try? body.write(to: folder.appendingPathComponent(target))
    do {
        _ = try ConfigLoader.load(directory: folder.path)
    } catch {
        for e in error.errors { _ = e.description }
    }
    return 0
}
