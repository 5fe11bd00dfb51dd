//! Release builds of the `wsbeat` binary on x86_64 Linux (GNU) lay out the functions a one-shot
//! `connect` or `ping` runs next to each other, in the order `build/startup.order` lists them
//! (`bench/startup-order` writes it from callgrind). Scattered over 6 MB of text, they cost a
//! page fault per 64 KiB window touched; grouped, ~40 fewer ("Where start-up goes" in
//! bench/README.md). A name the binary no longer has is skipped, so a stale list costs only
//! that gain. The flag is for lld (GNU ld has no such option), which is that target's default
//! linker since Rust 1.90: older compilers, a linker chosen through the environment or the
//! flags, and `WSBEAT_NO_ORDER=1` build without it.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build/startup.order");
    for k in [
        "WSBEAT_NO_ORDER",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
    ] {
        println!("cargo:rerun-if-env-changed={k}");
    }
    let var = |k: &str| env::var(k).unwrap_or_default();
    let wanted = var("PROFILE") == "release"
        && var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && env::var_os("WSBEAT_NO_ORDER").is_none()
        && env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && rustc_minor().is_some_and(|minor| minor >= 90);
    if !wanted {
        return;
    }
    let order = format!("{}/build/startup.order", var("CARGO_MANIFEST_DIR"));
    println!("cargo:rustc-link-arg-bin=wsbeat=-Wl,--symbol-ordering-file={order}");
    println!("cargo:rustc-link-arg-bin=wsbeat=-Wl,--no-warn-symbol-ordering");
}

/// The minor version of the compiler building us (`rustc 1.95.0 (…)` → 95).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC")?;
    let out = Command::new(rustc).arg("-V").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}
