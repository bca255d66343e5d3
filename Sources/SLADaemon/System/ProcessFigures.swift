import Foundation

/// What Prometheus's `process_*` metrics report, read from `/proc/self` (Linux).
struct ProcessFigures {
    var residentBytes: Int64 = 0
    var virtualBytes: Int64 = 0
    var cpuSeconds: Double = 0
    var openFiles = 0
    var maxFiles: Int64 = 0

    static func read() -> ProcessFigures {
        var p = ProcessFigures()
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // /proc/self/stat: the command may hold spaces and parentheses, so fields count from the last ')'.
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command: state is field 3 of proc(5), so field n is at index n - 3.
            if fields.count > 21 {
                p.cpuSeconds = ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks
                p.virtualBytes = Int64(fields[20]) ?? 0
                p.residentBytes = (Int64(fields[21]) ?? 0) * page
            }
        }
        p.openFiles = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            p.maxFiles = Int64(clamping: limit.rlim_cur)
        }
        return p
    }
}
