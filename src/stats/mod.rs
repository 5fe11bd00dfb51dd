//! Collectors: what a run adds up to. Fixed memory however long the run, so that a ping or a
//! soak can run for days; summaries merge, so that per-worker collectors can be combined.

pub mod counters;
pub mod latency;
pub mod probes;
pub mod serial;
pub mod series;
