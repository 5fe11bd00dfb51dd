//! rustls client configuration: webpki roots by default, `--cacert` to trust a private CA,
//! `--cert/--key` for client certificates, `--insecure` to skip verification (loudly).

use crate::error::{Error, ErrorKind};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure: bool,
}

/// Build once per run: soak opens thousands of connections with the same config.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS set-up failed: {e}")))?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        match &opts.cacert {
            // Like curl: --cacert replaces the bundled roots, so trust is explicit.
            Some(path) => {
                for cert in load_certs(path, "--cacert")? {
                    roots.add(cert).map_err(|e| {
                        Error::usage(format!(
                            "--cacert {}: unusable CA certificate: {e}",
                            path.display()
                        ))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    let mut config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert, "--cert")?;
            let key = load_key(key)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::usage(format!(
                    "--cert/--key do not form a usable client identity: {e}"
                ))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::usage("--cert and --key go together; give both")),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if key_log_file().is_some() {
        config.key_log = Arc::new(rustls::KeyLogFile::new());
    }
    Ok(Arc::new(config))
}

/// `SSLKEYLOGFILE`, as browsers and curl read it: TLS secrets are appended there (NSS key log
/// format) so that Wireshark can decrypt a capture. Whoever runs us asked for it, but anyone
/// who reads the file can read the traffic: the commands warn while it is set.
pub fn key_log_file() -> Option<PathBuf> {
    std::env::var_os("SSLKEYLOGFILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The warning line for `key_log_file`.
pub fn key_log_warning() -> Option<String> {
    key_log_file().map(|p| {
        format!(
            "SSLKEYLOGFILE: TLS secrets are written to {}; anyone who reads it can decrypt this traffic",
            p.display()
        )
    })
}

pub fn load_certs(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::usage(format!("cannot read {flag} {}: {e}", path.display())))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::usage(format!("{flag} {}: not valid PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "{flag} {}: no PEM certificate (-----BEGIN CERTIFICATE-----) found",
            path.display()
        )));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::usage(format!("cannot read key {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "key {}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            path.display()
        ))
    })
}

/// Turn a failed TLS handshake into a sentence that says why and what to do.
pub fn describe_handshake_error(host: &str, e: &std::io::Error) -> Error {
    use rustls::CertificateError as C;
    let inner = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let hint = "pass the server's CA with --cacert FILE, or skip verification with -k/--insecure";
    let message = match inner {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            C::UnknownIssuer => {
                format!("TLS: the certificate of {host} is signed by an unknown issuer; {hint}")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "TLS: the certificate is not valid for the name '{host}' (name mismatch); connect by a name the certificate lists, or {hint}"
            ),
            C::Expired | C::ExpiredContext { .. } => {
                format!("TLS: the certificate of {host} has expired; {hint}")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("TLS: the certificate of {host} is not valid yet (check the clock); {hint}")
            }
            other => format!("TLS: invalid certificate from {host} ({other:?}); {hint}"),
        },
        Some(other) => format!("TLS handshake with {host} failed: {other}"),
        None => format!("TLS handshake with {host} failed: {e}"),
    };
    Error::new(ErrorKind::Tls, message)
}

/// `--insecure`: accept any certificate, but still check the handshake signatures so that the
/// connection is at least encrypted to whoever holds the presented key.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
