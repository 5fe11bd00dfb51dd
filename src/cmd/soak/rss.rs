//! Process resources: resident memory from /proc (ours once a second, and `--watch-pid`'s),
//! the open-file limit, raised to the hard limit because every connection is a file, and the
//! ephemeral ports one source address offers.

/// Resident set size of `pid` (ourselves when `None`), in bytes; `None` where /proc has no
/// answer (not Linux, or the process is gone).
pub fn rss_bytes(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    parse_kb(&std::fs::read_to_string(path).ok()?, "VmRSS:")
}

/// Our own peak resident set size as the kernel kept it (`VmHWM`): exact, where the highest
/// of the once-a-second samples misses any spike between two of them.
pub fn own_peak_rss_bytes() -> Option<u64> {
    parse_kb(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmHWM:",
    )
}

fn parse_kb(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let mut parts = line[field.len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(n * 1024),
        Some(_) => None,
    }
}

/// What happened to the open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
}

/// Raise the soft RLIMIT_NOFILE to the hard limit (no privilege needed for that).
#[cfg(unix)]
pub fn raise_file_limit() -> Option<FileLimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Some(FileLimit {
        before,
        now: lim.rlim_cur,
        hard: lim.rlim_max,
    })
}

#[cfg(not(unix))]
pub fn raise_file_limit() -> Option<FileLimit> {
    None
}

/// Files the process needs besides its connections: stdio, the runtime's epoll and eventfds,
/// the embedded server's listener and its side of every connection.
pub const SPARE_FILES: u64 = 64;

/// A warning when `connections` will not fit under the limit, saying what to do.
pub fn file_limit_warning(limit: &FileLimit, connections: u64, embedded: bool) -> Option<String> {
    // With the embedded server, both ends of every connection are files in this process.
    let per_conn = if embedded { 2 } else { 1 };
    let need = connections * per_conn + SPARE_FILES;
    (need > limit.now).then(|| {
        format!(
            "{connections} connections need about {need} open files{}, but the limit is {} (hard limit {}); \
             connections beyond it will fail with 'too many open files': run several soak processes and --merge their reports{}",
            if embedded { " (the embedded server holds the other end of each)" } else { "" },
            limit.now,
            limit.hard,
            if embedded { ", or soak an echo server in another process" } else { "" }
        )
    })
}

/// Linux hands out local ports from this range (inclusive); one source address can hold one
/// connection per port to a given server address.
fn ephemeral_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|n| n.parse::<u64>());
    let (lo, hi) = (it.next()?.ok()?, it.next()?.ok()?);
    (hi >= lo).then(|| hi - lo + 1)
}

/// A warning when `connections` need more local ports than `sources` addresses have.
pub fn port_warning(connections: u64, sources: usize) -> Option<String> {
    let ports = ephemeral_ports()?;
    let sources = sources.max(1) as u64;
    (connections > ports * sources).then(|| {
        format!(
            "{connections} connections need more local ports than {sources} source address(es) have \
             ({ports} each, from /proc/sys/net/ipv4/ip_local_port_range): add addresses with \
             --source-addrs 127.0.0.1-127.0.0.{}",
            connections.div_ceil(ports).min(254)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_in_bytes() {
        let status =
            "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t  2000 kB\nVmRSS:\t  1234 kB\nThreads: 2\n";
        assert_eq!(parse_kb(status, "VmRSS:"), Some(1234 * 1024));
        assert_eq!(parse_kb(status, "VmHWM:"), Some(2000 * 1024));
        assert_eq!(parse_kb("Name: x\n", "VmRSS:"), None);
        let now = rss_bytes(None).unwrap();
        assert!(now > 0);
        assert!(
            own_peak_rss_bytes().is_some_and(|p| p >= now),
            "the high-water mark is never below the current RSS"
        );
        assert_eq!(rss_bytes(Some(u32::MAX)), None);
    }

    #[test]
    fn warns_only_when_connections_do_not_fit() {
        let l = FileLimit {
            before: 1024,
            now: 20_000,
            hard: 20_000,
        };
        assert!(file_limit_warning(&l, 19_000, false).is_none());
        let w = file_limit_warning(&l, 19_000, true).unwrap();
        assert!(w.contains("--merge"), "{w}");
        assert!(raise_file_limit().is_some_and(|l| l.now >= l.before));
    }

    #[test]
    fn warns_when_one_source_address_runs_out_of_ports() {
        let Some(ports) = ephemeral_ports() else {
            return;
        };
        assert!(port_warning(ports, 1).is_none());
        let w = port_warning(ports + 1, 1).unwrap();
        assert!(w.contains("--source-addrs 127.0.0.1-127.0.0.2"), "{w}");
        assert!(port_warning(ports + 1, 2).is_none());
    }
}
