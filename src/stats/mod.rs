//! Collectors: what a run adds up to. Fixed memory however long the run, so that a ping or a
//! soak can run for days; summaries merge, so that per-worker collectors can be combined.
//! Renderers read what is here (snapshots, reports, verdicts) and nothing of the commands.

pub mod counters;
pub mod latency;
pub mod probes;
pub mod run_view;
pub mod serial;
pub mod series;
pub mod server_mark;
pub mod soak_collector;
pub mod soak_envelope;
pub mod soak_message;
pub mod soak_report;
pub mod soak_sink;
pub mod soak_tracker;
pub mod timeline;
pub mod verdict;
