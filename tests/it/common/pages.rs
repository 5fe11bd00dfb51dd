//! A tiny HTTP server for browser tests: it serves fixed pages (and scripts) by path, and
//! hands the body of each `POST /result` the page sends to the test.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// One file the server answers `GET PATH` with.
pub struct Page {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Serve `pages` on `listener` until the test ends; each `POST /result` body goes to `results`.
pub fn serve_pages(listener: TcpListener, pages: Vec<Page>, results: mpsc::Sender<String>) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let (head, body) = read_request(&mut s);
            if head.starts_with("POST /result") {
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                let _ = results.send(body);
                continue;
            }
            let page = pages.iter().find(|p| {
                head.strip_prefix("GET ")
                    .and_then(|r| r.strip_prefix(p.path))
                    .is_some_and(|r| r.starts_with([' ', '?']))
            });
            let Some(page) = page else {
                let _ = s.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.content_type,
                page.body.len()
            );
            let _ = s.write_all(&page.body);
        }
    });
}

/// The request's head and its body (as long as its Content-Length says).
fn read_request(s: &mut impl Read) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), String::new()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= len {
                return (head.to_string(), body.to_string());
            }
        }
    }
}
