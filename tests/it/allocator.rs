//! The binary allocates through jemalloc (src/main.rs, default feature `jemalloc`); built
//! without the feature it uses the system allocator and links no jemalloc at all.

use crate::common::*;

/// jemalloc prints its statistics at exit when its run-time configuration asks for them
/// (`_RJEM_MALLOC_CONF`, the variable of tikv-jemallocator's prefixed build). The binary
/// references jemalloc only as its global allocator, so the statistics show that it is linked
/// as one; and they are never printed unless asked for.
#[test]
fn the_binary_is_linked_with_jemalloc_exactly_when_the_feature_is_on() {
    let asked = run(wsbeat()
        .arg("--version")
        .env("_RJEM_MALLOC_CONF", "stats_print:true"));
    assert!(asked.status.success(), "{}", describe(&asked));
    let printed = stderr_of(&asked).contains("Begin jemalloc statistics");
    assert_eq!(
        printed,
        cfg!(feature = "jemalloc"),
        "jemalloc statistics printed: {printed}, feature jemalloc: {}\n{}",
        cfg!(feature = "jemalloc"),
        describe(&asked)
    );

    let plain = run(wsbeat().arg("--version"));
    assert!(plain.status.success(), "{}", describe(&plain));
    assert_eq!(stderr_of(&plain), "", "nothing on stderr unless asked");
    assert!(
        stdout_of(&plain).starts_with("wsbeat "),
        "{}",
        describe(&plain)
    );
}
