//! Lower parsed arguments into validated configs before any I/O: files are read, URLs parsed,
//! colour decided and bad combinations rejected here, one file per subcommand, so commands
//! only run. Nothing below this module sees a clap type.

pub mod connect;
pub mod coordinator;
pub mod echo_server;
pub mod ping;
pub mod scenario;
pub mod soak;

pub use connect::ConnectConfig;

use crate::cli::{ColorChoice, HandshakeArgs, OutputArgs, StepOpt, TlsArgs};
use crate::client::steps::StepArg;
use crate::error::Error;
use crate::net::proxy::ProxyChoice;
use crate::net::resolve::Overrides;
use crate::net::route::Reach;
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
    if handshake.proxy.len() > 1 {
        return Err(Error::usage(
            "--proxy given more than once; only soak spreads connections over several proxies",
        ));
    }
    build_options(
        url,
        handshake,
        tls_args,
        handshake.proxy.first().map(String::as_str),
    )
}

/// soak: one set of options per `--proxy` (round robin over connections), or one.
pub fn connect_options_per_proxy(
    url: &str,
    handshake: &HandshakeArgs,
    tls_args: &TlsArgs,
) -> Result<Vec<ConnectOptions>, Error> {
    if handshake.proxy.is_empty() {
        return Ok(vec![build_options(url, handshake, tls_args, None)?]);
    }
    handshake
        .proxy
        .iter()
        .map(|p| build_options(url, handshake, tls_args, Some(p)))
        .collect()
}

fn build_options(
    url: &str,
    handshake: &HandshakeArgs,
    tls_args: &TlsArgs,
    proxy: Option<&str>,
) -> Result<ConnectOptions, Error> {
    let (target, unix_socket) = match unix_url(url)? {
        Some((target, path)) => {
            if handshake.unix_socket.is_some() {
                return Err(Error::usage(
                    "a ws+unix:// URL names its socket already; drop --unix-socket",
                ));
            }
            (target, Some(path))
        }
        None => (url.parse::<Target>()?, handshake.unix_socket.clone()),
    };
    if unix_socket.is_some() && proxy.is_some_and(|p| !p.trim().is_empty()) {
        return Err(Error::usage(
            "--proxy and a Unix socket do not go together: the socket is the whole way",
        ));
    }
    let proxy = ProxyChoice::new(
        proxy,
        handshake.proxy_user.as_ref(),
        handshake.noproxy.as_deref(),
        |k| std::env::var(k).ok(),
    )?;
    let follow = handshake.location.then_some(handshake.max_redirs);
    // ws:// may still need TLS: a redirect to wss://, or an https:// proxy.
    let needs_tls = target.secure || follow.is_some() || proxy.any_https();
    if !needs_tls && (tls_args.cacert.is_some() || tls_args.cert.is_some()) {
        return Err(Error::usage(format!(
            "--cacert/--cert apply to wss:// only; {} is plain ws://",
            target.url()
        )));
    }
    let tls = if needs_tls {
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
        reach: Reach {
            proxy,
            unix_socket,
            overrides: Overrides {
                resolve: handshake.resolve.clone(),
                connect_to: handshake.connect_to.clone(),
            },
            tls_server_name: tls_args.tls_server_name.clone(),
        },
        follow,
        compress: handshake.compress.clone(),
    })
}

/// The step options in command-line order; without the order (a parse that skipped
/// `Cli::try_parse_ordered_from`), sends, uncompressed sends, the file, expects, JSON expects.
fn step_args(
    ordered: &[(StepOpt, String)],
    send: &[String],
    uncompressed: &[String],
    file: Option<&std::path::PathBuf>,
    expect: &[String],
    expect_json: &[String],
) -> Vec<StepArg> {
    if !ordered.is_empty() {
        return ordered
            .iter()
            .filter_map(|(opt, v)| {
                Some(match opt {
                    StepOpt::Send => StepArg::Send(v.clone()),
                    StepOpt::SendUncompressed => StepArg::SendUncompressed(v.clone()),
                    StepOpt::Expect => StepArg::Expect(v.clone()),
                    StepOpt::ExpectJson => StepArg::ExpectJson(v.clone()),
                    StepOpt::SendFile => StepArg::SendFile(file?.clone()),
                    StepOpt::Emit | StepOpt::EmitAck => {
                        let [event, json]: [String; 2] = serde_json::from_str(v).ok()?;
                        StepArg::Emit {
                            event,
                            json,
                            ack: *opt == StepOpt::EmitAck,
                        }
                    }
                })
            })
            .collect();
    }
    let sends = send.iter().cloned().map(StepArg::Send);
    let raw = uncompressed.iter().cloned().map(StepArg::SendUncompressed);
    let file = file.cloned().map(StepArg::SendFile);
    let expects = expect.iter().cloned().map(StepArg::Expect);
    let json = expect_json.iter().cloned().map(StepArg::ExpectJson);
    sends
        .chain(raw)
        .chain(file)
        .chain(expects)
        .chain(json)
        .collect()
}

/// `ws+unix:///path/to.sock:/ws/path` (also `wss+unix://`): the socket's path up to the first
/// ':', then the resource (`/` when none). Host is `localhost`, as Node's `ws` sends.
fn unix_url(url: &str) -> Result<Option<(Target, std::path::PathBuf)>, Error> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with("ws+unix://") {
        ("ws", &url[10..])
    } else if lower.starts_with("wss+unix://") {
        ("wss", &url[11..])
    } else {
        return Ok(None);
    };
    let (path, resource) = rest.split_once(':').unwrap_or((rest, "/"));
    if path.is_empty() {
        return Err(Error::usage(format!(
            "'{url}' names no socket; write {scheme}+unix:///path/to.sock:/ws/path"
        )));
    }
    let resource = if resource.starts_with('/') {
        resource.to_string()
    } else {
        format!("/{resource}")
    };
    let target = format!("{scheme}://localhost{resource}").parse()?;
    Ok(Some((target, path.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_urls_name_the_socket_then_the_path() {
        let (t, p) = unix_url("ws+unix:///tmp/a.sock:/chat?x=1")
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.url().as_str(), p.to_str()),
            ("ws://localhost/chat?x=1", Some("/tmp/a.sock"))
        );
        let (t, p) = unix_url("WSS+UNIX:///run/s").unwrap().unwrap();
        assert_eq!(
            (t.url().as_str(), p.to_str()),
            ("wss://localhost/", Some("/run/s"))
        );
        assert!(unix_url("ws+unix://:/x").is_err());
        assert!(unix_url("ws://h/").unwrap().is_none());
    }
}
