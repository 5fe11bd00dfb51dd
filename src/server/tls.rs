//! rustls server configuration: a certificate and key from PEM files, or a self-signed
//! certificate made at start for localhost, 127.0.0.1 and ::1.

use crate::error::{Error, ErrorKind};
use crate::net::tls::{load_certs, load_key};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The names a self-signed certificate is valid for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Error> {
    let chain = load_certs(cert, "--tls-cert")?;
    let key = load_key(key)?;
    build(chain, key)
}

/// A certificate made at start; its PEM is written to `pem_path` for clients to trust.
pub struct SelfSigned {
    pub config: Arc<ServerConfig>,
    pub pem_path: PathBuf,
    /// SHA-256 of the DER certificate, as colon-separated upper-case hex.
    pub sha256: String,
}

pub fn self_signed(pem_path: PathBuf) -> Result<SelfSigned, Error> {
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| {
        Error::new(
            ErrorKind::Tls,
            format!("cannot make a self-signed certificate: {e}"),
        )
    })?;
    std::fs::write(&pem_path, made.cert.pem()).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!(
                "cannot write the self-signed certificate to {}: {e}",
                pem_path.display()
            ),
        )
    })?;
    let der: CertificateDer<'static> = made.cert.der().clone();
    let sha256 = fingerprint(&der);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    Ok(SelfSigned {
        config: build(vec![der], key)?,
        pem_path,
        sha256,
    })
}

pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS set-up failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            Error::usage(format!(
                "--tls-cert/--tls-key do not form a usable server identity: {e}"
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_writes_a_pem_that_loads_back_and_reports_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        let made = self_signed(path.clone()).unwrap();
        let certs = load_certs(&path, "--cacert").unwrap();
        assert_eq!(made.sha256, fingerprint(&certs[0]));
        assert_eq!(made.sha256.len(), 32 * 3 - 1);
    }

    #[test]
    fn unreadable_files_name_the_flag() {
        let e = from_pem_files(
            Path::new("/nonexistent/c.pem"),
            Path::new("/nonexistent/k.pem"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--tls-cert"), "{e}");
    }
}
