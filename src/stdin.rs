//! Stdin lines on a plain thread: tokio's stdin would keep the runtime from shutting down while
//! a read blocks, and a thread that is still reading when we exit is simply dropped. Stdin that
//! is /dev/null (CI steps, `< /dev/null`, hyperfine) gets no thread: starting one to read an
//! immediate end of input was ~5% of a one-shot `connect` (bench/README.md, "Where start-up
//! goes").

use std::io::BufRead;
use tokio::sync::mpsc;

pub enum StdinItem {
    /// One line without its `\n` (and without a `\r` before it).
    Line(Vec<u8>),
    Failed(String),
}

/// Bounded so that a fast producer is slowed down rather than buffered without limit;
/// nothing is dropped.
pub fn spawn_lines() -> mpsc::Receiver<StdinItem> {
    let (tx, rx) = mpsc::channel(1024);
    if stdin_is_dev_null() {
        // The sender dropped: the receiver sees the end of input at once, as after a read of 0.
        return rx;
    }
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut reader = stdin.lock();
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                            if line.last() == Some(&b'\r') {
                                line.pop();
                            }
                        }
                        if tx.blocking_send(StdinItem::Line(line)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(StdinItem::Failed(e.to_string()));
                        break;
                    }
                }
            }
        })
        .expect("spawning the stdin thread");
    rx
}

/// Whether stdin is the null device. Through a duplicate of fd 0 (`fstat`): a path such as
/// /dev/stdin costs a walk through /proc, ~7 us a lookup here. Any error says no, and then a
/// thread reads stdin.
fn stdin_is_dev_null() -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| is_null_device(&m))
}

/// Whether `m` describes the null device (a character device with /dev/null's numbers).
fn is_null_device(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    m.file_type().is_char_device()
        && std::fs::metadata("/dev/null").is_ok_and(|null| m.rdev() == null.rdev())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_null_device_counts_as_dev_null() {
        let is_null = |path: &str| is_null_device(&std::fs::metadata(path).unwrap());
        assert!(is_null("/dev/null"));
        assert!(!is_null("/dev/zero"), "another character device");
        assert!(
            !is_null(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
            "a regular file"
        );
    }
}
