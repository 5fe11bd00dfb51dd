//! The scripts in completions/ are generated from the clap definition and committed; this test
//! fails when they drift. Regenerate with
//! `WSBEAT_UPDATE_COMPLETIONS=1 cargo test --test it completions`.

use std::path::Path;

use crate::common::{run, wsbeat};

const SHELLS: [(&str, &str); 5] = [
    ("bash", "wsbeat.bash"),
    ("zsh", "_wsbeat"),
    ("fish", "wsbeat.fish"),
    ("powershell", "_wsbeat.ps1"),
    ("elvish", "wsbeat.elv"),
];

#[test]
fn committed_completions_match_the_cli() {
    let update = std::env::var_os("WSBEAT_UPDATE_COMPLETIONS").is_some();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let mut stale = Vec::new();
    for (shell, file) in SHELLS {
        let out = run(wsbeat().args(["completions", shell]));
        assert!(out.status.success(), "wsbeat completions {shell} failed");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("connect"),
            "{shell} completions do not mention the connect subcommand"
        );
        let path = dir.join(file);
        if update {
            std::fs::write(&path, &out.stdout).expect("writing completions");
            continue;
        }
        match std::fs::read(&path) {
            Ok(committed) if committed == out.stdout => {}
            _ => stale.push(path.display().to_string()),
        }
    }
    assert!(
        stale.is_empty(),
        "completions out of date: {stale:?}; run WSBEAT_UPDATE_COMPLETIONS=1 cargo test --test it completions and commit"
    );
}
