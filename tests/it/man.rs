//! The pages in man/ are generated from the clap definition (`wsbeat man DIR`) and committed;
//! this test fails when they drift. Regenerate with `WSBEAT_UPDATE_MAN=1 cargo test --test it man::`.

use crate::common::{assert_exit, run, stdout_of, wsbeat};
use std::path::Path;

#[test]
fn committed_man_pages_match_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("man1");
    let o = run(wsbeat().arg("man").arg(&out));
    assert_exit(&o, 0);
    let listed = stdout_of(&o);
    let mut generated: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    for want in ["wsbeat.1", "wsbeat-soak.1", "wsbeat-ping.1", "wsbeat-man.1"] {
        assert!(
            generated.iter().any(|n| n == want),
            "no {want} in {generated:?}"
        );
        assert!(listed.contains(want), "{want} not listed: {listed}");
    }
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    if std::env::var_os("WSBEAT_UPDATE_MAN").is_some() {
        let _ = std::fs::remove_dir_all(&committed);
        std::fs::create_dir_all(&committed).unwrap();
        for name in &generated {
            std::fs::copy(out.join(name), committed.join(name)).unwrap();
        }
    }
    let mut have: Vec<String> = std::fs::read_dir(&committed)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    have.sort();
    let stale: Vec<&String> = generated
        .iter()
        .filter(|n| std::fs::read(out.join(n)).ok() != std::fs::read(committed.join(n)).ok())
        .collect();
    assert!(
        stale.is_empty() && have == generated,
        "man/ out of date ({stale:?}; committed {have:?}, generated {generated:?}); run WSBEAT_UPDATE_MAN=1 cargo test --test it man:: and commit"
    );
    // man(1) reads it: the soak page has its name and options in roff.
    let soak = std::fs::read_to_string(out.join("wsbeat-soak.1")).unwrap();
    assert!(
        soak.starts_with(".ie \\n(.g .ds Aq") || soak.contains(".TH wsbeat-soak"),
        "{soak}"
    );
    assert!(
        soak.contains("\\-\\-report"),
        "soak's options are on its page"
    );
}
