//! Man pages from the one clap definition (`clap_mangen`): `wsbeat.1` and one page per
//! subcommand (`wsbeat-soak.1`, …). The files in `man/` are these, committed, and
//! tests/it/man.rs fails when they drift; `wsbeat man DIR` installs them.

use crate::cli::Cli;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// (file name, roff) for the top page and every visible subcommand, as `clap_mangen`'s own
/// `generate_to` would write them, but in memory.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(cmd, &mut out);
    out
}

fn collect(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        collect(sub, out);
    }
    let man = clap_mangen::Man::new(cmd);
    let mut roff = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = man.render(&mut roff);
    out.push((man.get_filename(), roff));
}

/// Writes every page into `dir` (created if missing); the paths written.
pub fn install(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    pages()
        .into_iter()
        .map(|(name, roff)| {
            let path = dir.join(name);
            std::fs::write(&path, roff)?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_for_wsbeat_and_each_subcommand() {
        let names: Vec<String> = pages().into_iter().map(|p| p.0).collect();
        for want in [
            "wsbeat.1",
            "wsbeat-soak.1",
            "wsbeat-ping.1",
            "wsbeat-connect.1",
            "wsbeat-echo-server.1",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        let soak = pages()
            .into_iter()
            .find(|p| p.0 == "wsbeat-soak.1")
            .unwrap()
            .1;
        let text = String::from_utf8(soak).unwrap();
        assert!(
            text.contains("\\-\\-report"),
            "soak's page lists its options"
        );
    }
}
