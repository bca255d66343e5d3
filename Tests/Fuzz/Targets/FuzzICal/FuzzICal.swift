import Foundation
import SLAConfig

/// A calendar whose holidays come from an iCalendar file: the input is that file.
let folder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("slad-fuzz-ical-\(getpid())")
    for sub in ["contracts.d", "calendars"] {
        try? FileManager.default.createDirectory(at: url.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    try? "timezone: Europe/Moscow\nhours:\n  mon-fri: [\"09:00-18:00\"]\nholidays_ics: holidays.ics\n".write(
        to: url.appendingPathComponent("calendars/msk.yaml"), atomically: true, encoding: .utf8)
    try?
        "id: base\ncustomer: Base\ncalendar: msk\nfee: { amount: \"1.00\", currency: EUR }\npriorities:\n  P1: { reaction: 1h }\n"
        .write(to: url.appendingPathComponent("contracts.d/base.yaml"), atomically: true, encoding: .utf8)
    return url
}()

/// The input is the holidays file: the loader answers with a calendar or located errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    try? Data(UnsafeBufferPointer(start: data, count: size)).write(
        to: folder.appendingPathComponent("calendars/holidays.ics"))
    do {
        _ = try ConfigLoader.load(directory: folder.path)
    } catch {
        for e in error.errors { _ = e.description }
    }
    return 0
}
