//! HTTPS: a certificate authority made at start, a server certificate for `127.0.0.1` and
//! `localhost` signed by it, and a listener that hands axum finished TLS streams.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::error::Error;

/// How long a client may take over its handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS material of one [`crate::MockIdp`]: the CA (PEM, and a temporary file holding it,
/// removed on drop) and the acceptor every listener of the IdP shares.
pub(crate) struct Tls {
    pub ca_pem: String,
    pub ca_path: PathBuf,
    pub acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca_path", &self.ca_path)
            .finish()
    }
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_path);
    }
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{what}: {e}"))
}

impl Tls {
    /// Makes a fresh CA (ECDSA P-256, fast to generate) and a server certificate for
    /// `127.0.0.1`, `::1` and `localhost`, and writes the CA's PEM to a temporary file.
    pub(crate) fn generate() -> Result<Tls, Error> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| tls_error("CA key", e))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_error("CA", e))?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "byoid mock IdP test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| tls_error("CA certificate", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| tls_error("server key", e))?;
        let names = vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".to_string(),
        ];
        let mut params =
            CertificateParams::new(names).map_err(|e| tls_error("server certificate", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .map_err(|e| tls_error("server certificate", e))?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
        let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("TLS config", e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| tls_error("TLS config", e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        let ca_pem = ca_cert.pem();
        let ca_path = write_temp_pem(&ca_pem)?;
        Ok(Tls {
            ca_pem,
            ca_path,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub(crate) fn ca_path(&self) -> &Path {
        &self.ca_path
    }
}

/// Writes the CA to a new file in the temporary directory (never overwriting one).
fn write_temp_pem(pem: &str) -> Result<PathBuf, Error> {
    use std::io::Write;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = dir.join(format!(
            "byoid-mock-idp-ca-{}-{n}-{nanos:x}.pem",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(pem.as_bytes())
                    .map_err(|e| tls_error(&format!("writing {}", path.display()), e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(tls_error(&format!("creating {}", path.display()), e)),
        }
    }
    Err(Error::Tls(format!(
        "cannot create a CA file in {}",
        dir.display()
    )))
}

/// A listener for `axum::serve` that yields TLS streams. Handshakes run in tasks of their own,
/// so a slow or silent client never holds up the others; failed handshakes are dropped. The
/// TCP listener is owned here, not by a task, so that it closes when this is dropped.
pub(crate) struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    local: SocketAddr,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub(crate) fn new(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        Ok(TlsListener {
            local: listener.local_addr()?,
            listener,
            acceptor,
            handshakes: JoinSet::new(),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let acceptor = self.acceptor.clone();
                        self.handshakes.spawn(async move {
                            let handshake = acceptor.accept(tcp);
                            let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
                                .await
                                .ok()?
                                .ok()?;
                            Some((stream, peer))
                        });
                    }
                    // Out of file descriptors and the like: back off, as axum does.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                // With no handshake under way this branch is off until the next accept.
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
