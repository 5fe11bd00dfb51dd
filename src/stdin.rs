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
    if is_dev_null("/dev/stdin") {
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

/// Whether `path` is (or links to) the null device. Any error says no: then a thread reads it.
fn is_dev_null(path: &str) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    match (std::fs::metadata(path), std::fs::metadata("/dev/null")) {
        (Ok(m), Ok(null)) => m.file_type().is_char_device() && m.rdev() == null.rdev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_null_device_counts_as_dev_null() {
        assert!(is_dev_null("/dev/null"));
        assert!(!is_dev_null("/dev/zero"), "another character device");
        assert!(
            !is_dev_null(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
            "a regular file"
        );
        assert!(!is_dev_null("/nonexistent/stdin"));
    }
}
