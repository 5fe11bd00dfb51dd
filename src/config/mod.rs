//! Lower parsed arguments into validated configs before any I/O: files are read, URLs parsed,
//! colour decided and bad combinations rejected here, one file per subcommand, so commands
//! only run. Nothing below this module sees a clap type.

pub mod connect;
pub mod echo_server;
pub mod ping;
pub mod soak;

pub use connect::ConnectConfig;

use crate::cli::{ColorChoice, HandshakeArgs, OutputArgs, TlsArgs};
use crate::error::Error;
use crate::net::target::Target;
use crate::net::tls::{self, TlsOptions};
use crate::render::OutputConfig;
use crate::ws::handshake::client::ConnectOptions;
use std::io::IsTerminal;

pub fn output(args: &OutputArgs) -> OutputConfig {
    OutputConfig {
        json: args.json,
        color: use_color(args.color, std::io::stderr().is_terminal()),
        verbose: args.verbose,
    }
}

/// One place decides colour: the flag, then NO_COLOR, then TERM=dumb, then whether it is a tty.
pub fn use_color(choice: ColorChoice, is_tty: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_tty
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

pub fn connect_options(
    url: &str,
    handshake: &HandshakeArgs,
    tls_args: &TlsArgs,
) -> Result<ConnectOptions, Error> {
    let target: Target = url.parse()?;
    if !target.secure && (tls_args.cacert.is_some() || tls_args.cert.is_some()) {
        return Err(Error::usage(format!(
            "--cacert/--cert apply to wss:// only; {} is plain ws://",
            target.url()
        )));
    }
    let tls = if target.secure {
        Some(tls::client_config(&TlsOptions {
            cacert: tls_args.cacert.clone(),
            cert: tls_args.cert.clone(),
            key: tls_args.key.clone(),
            insecure: tls_args.insecure,
        })?)
    } else {
        None
    };
    let auth = handshake.auth.clone().or_else(|| target.userinfo.clone());
    Ok(ConnectOptions {
        target,
        headers: handshake.headers.clone(),
        origin: handshake.origin.clone(),
        subprotocols: handshake.subprotocols.clone(),
        auth,
        connect_timeout: handshake.connect_timeout,
        tls,
        max_message_size: handshake.max_message_size,
        source: None,
        compress: handshake.compress.clone(),
    })
}
