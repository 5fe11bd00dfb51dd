//! Shell completions from the one clap definition; the files in `completions/` are these,
//! committed, and tests/completions.rs fails when they drift.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;

pub fn generate(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "wsbeat", &mut out);
    out
}

/// The file name each shell's scripts are committed under.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "wsbeat.bash",
        Shell::Zsh => "_wsbeat",
        Shell::Fish => "wsbeat.fish",
        Shell::PowerShell => "_wsbeat.ps1",
        Shell::Elvish => "wsbeat.elv",
        _ => "wsbeat.completion",
    }
}
