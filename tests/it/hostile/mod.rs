//! Hostile peers, so that what issue 11 fixed stays fixed: memory stays bounded and every run
//! ends with its one line and its exit code, whatever the other side does.
//!
//! * `server_memory`: clients that never read, against `echo-server` (broadcast queues in
//!   bytes, the `--max-buffered` budget).
//! * `send_file`: `connect --send-file` streams from disk; a source that cannot be sized has a
//!   limit.
//! * `servers`: a misbehaving server against `connect`, `ping` and `soak`: ping floods, a
//!   server that never reads, endless headers, a 2 GiB frame header, data after Close, a Close
//!   never answered.
//!
//! Peak memory is the kernel's high-water mark of the process (`VmHWM`), read while it still
//! runs: it only grows, so a reading taken after the peak happened is the peak.

mod send_file;
mod server_memory;
mod servers;
mod sio_memory;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::frames;
use crate::common::*;

pub const MIB: u64 = 1 << 20;

/// The peak resident memory of a running process, from `/proc/PID/status` (bytes).
#[track_caller]
pub fn vm_hwm(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"));
    kib * 1024
}

/// `wsbeat echo-server --json` on a free port with `args`; its `127.0.0.1:PORT`.
#[track_caller]
pub fn echo_server(args: &[&str]) -> (Proc, String) {
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen", "127.0.0.1:0", "--json"])
        .args(args);
    let server = Proc::spawn(&format!("echo-server {}", args.join(" ")), &mut cmd);
    let url = server.wait_event("listening", OBS_TIMEOUT)["url"]
        .as_str()
        .expect("listening.url")
        .to_string();
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string();
    (server, addr)
}

/// A client that did the upgrade by hand and may then do anything (or nothing).
pub fn raw_client(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(OBS_TIMEOUT)).unwrap();
    s.write_all(&frames::upgrade_request("/")).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).expect("read the 101"), 1, "EOF in the 101");
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Reads one server frame from a blocking stream: (fin, opcode, payload).
pub fn read_server_frame(s: &mut TcpStream) -> frames::Got {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).expect("a frame header");
    let len = match head[1] & 0x7F {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0; len];
    s.read_exact(&mut payload).expect("a frame payload");
    (head[0] & 0x80 != 0, head[0] & 0x0F, payload)
}

/// Limits how much of what the server sends the kernel keeps for this client, so that what a
/// client does not read stays in the server (where it is measured) rather than in socket
/// buffers.
pub fn small_receive_buffer(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 16 * 1024;
    // SAFETY: setsockopt(2) on our own socket with a pointer to a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
}

pub const WAIT: Duration = Duration::from_secs(20);
