//! Turning events into output. The renderer is chosen once per run; an `Err` from `event`
//! means stdout is gone (e.g. a closed pipe), which ends the run without being an error.

pub mod html;
pub mod human;
pub mod json_layout;
pub mod lead;
pub mod live;
pub mod ndjson;
pub mod ping;
pub mod server;
pub mod soak;
pub mod sparkline;
pub mod units;

use crate::event::Event;
use std::io::{self, Write};
use std::time::Duration;

/// How a run's output looks; decided once, before the run, by `config`.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// NDJSON events on stdout instead of lines for people.
    pub json: bool,
    pub color: bool,
    pub verbose: bool,
}

/// How received binary messages are shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryFormat {
    /// Offset, hex bytes and printable characters, like `xxd`.
    Hex,
    Base64,
    /// The bytes as they are.
    Raw,
}

pub trait Render {
    fn event(&mut self, ts: Duration, event: &Event) -> io::Result<()>;
}

/// What a client session shows besides the data itself.
#[derive(Debug, Clone, Copy)]
pub struct ClientView {
    pub binary_format: BinaryFormat,
    pub show_control: bool,
}

pub fn client(output: &OutputConfig, view: ClientView) -> Box<dyn Render + Send> {
    if output.json {
        Box::new(ndjson::Ndjson::new())
    } else {
        Box::new(human::Human::new(output, view))
    }
}

/// True for errors that mean "nobody reads stdout any more".
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Stdout carries data, NDJSON and reports: each goes out whole in one write and is flushed at
/// once, so writers on other threads never tear a line and a reader sees it as it happens.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// A write to stdout failed, so the caller stops writing there. A closed pipe is the reader's
/// choice (`| head -1`) and a success, said nowhere; any other failure is said once.
pub fn stdout_failed(e: &io::Error) {
    if !is_broken_pipe(e) {
        eprintln!("wsbeat: error: cannot write output: {e}");
    }
}
