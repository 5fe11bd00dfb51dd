//! Turning events into output. The renderer is chosen once per run; an `Err` from `event`
//! means stdout is gone (e.g. a closed pipe), which ends the run without being an error.

pub mod human;
pub mod live;
pub mod ndjson;
pub mod ping;
pub mod soak;
pub mod units;

use crate::event::Event;
use std::io;
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
