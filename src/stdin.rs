//! Stdin lines on a plain thread: tokio's stdin would keep the runtime from shutting down while
//! a read blocks, and a thread that is still reading when we exit is simply dropped.

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
