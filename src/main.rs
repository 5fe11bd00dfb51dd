use std::process::ExitCode;
use wsbeat::cli::Cli;
use wsbeat::error::{Error, ErrorKind};

/// jemalloc, for the binary only (the library leaves the choice to whoever links it). tokio
/// aligns its task cells and socket registrations to 128 bytes, which glibc serves by cutting
/// them out of larger chunks and leaving slack around each; jemalloc's size classes hold them
/// without it (an idle server connection 0.90 KiB against 1.19), and it gives freed big
/// messages back. It costs start-up ~0.3 ms (its constructor and arenas). Figures in
/// bench/README.md, "Allocator". `--no-default-features` builds with the system allocator, the
/// one DHAT and Massif see.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_ordered_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match wsbeat::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // Messages may quote peer bytes; escaping here too keeps any one that slipped
            // through from driving the terminal.
            eprintln!(
                "wsbeat: error: {}",
                wsbeat::error::escape_controls(&format!("{err:#}"), false)
            );
            let kind = err
                .downcast_ref::<Error>()
                .map_or(ErrorKind::Usage, Error::kind);
            ExitCode::from(kind.exit_code())
        }
    }
}

/// clap's own errors, folded into our one-line form; help and version print as clap made them.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(ErrorKind::Usage.exit_code())
        } else {
            ExitCode::SUCCESS
        };
    }
    if let Some(line) = secret_value_error(&e) {
        eprintln!("wsbeat: error: {line} (see 'wsbeat --help')");
        return ExitCode::from(ErrorKind::Usage.exit_code());
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines();
    let mut first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    // clap names the missing arguments on the indented lines below its first; without them
    // the line says something is missing but not what.
    if e.kind() == K::MissingRequiredArgument {
        let missing: Vec<&str> = lines
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        first = format!("{} {}", first.trim_end(), missing.join(", "));
    }
    eprintln!("wsbeat: error: {first} (see 'wsbeat --help')");
    ExitCode::from(ErrorKind::Usage.exit_code())
}

/// A bad value of a flag that carries credentials, without the value: clap's own line quotes
/// it (`invalid value 'Authorization Bearer TOKEN' for '--header …'`). Our parser's message
/// says what is wrong and never holds the secret.
fn secret_value_error(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind as K};
    if e.kind() != K::ValueValidation {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    if !["--header ", "--auth ", "--redis "]
        .iter()
        .any(|f| arg.starts_with(f))
    {
        return None;
    }
    let why = std::error::Error::source(e).map_or_else(String::new, |s| format!(": {s}"));
    Some(format!("invalid value for '{arg}'{why}"))
}
