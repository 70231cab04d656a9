//! TLS for client connections (rustls), verifying the server's certificate against a CA
//! file the caller names.

use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::error::Error;

/// How to make TLS connections: the certificates to trust and the name the server's
/// certificate must carry.
#[derive(Clone)]
pub struct TlsConfig {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig(message)
}

impl TlsConfig {
    /// Trusts the certificates in the PEM file `ca_file`; the server's certificate must
    /// be for `server_name` (a DNS name or an IP address, usually the host connected to).
    pub fn from_ca_file(ca_file: &Path, server_name: &str) -> Result<TlsConfig, Error> {
        let mut roots = RootCertStore::empty();
        let certificates = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| invalid(format!("cannot read CA file {}: {e}", ca_file.display())))?;
        for certificate in certificates {
            let certificate = certificate
                .map_err(|e| invalid(format!("bad certificate in {}: {e}", ca_file.display())))?;
            roots.add(certificate).map_err(|e| {
                invalid(format!(
                    "unusable certificate in {}: {e}",
                    ca_file.display()
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(invalid(format!("no certificates in {}", ca_file.display())));
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|e| invalid(format!("{server_name:?} is not a server name: {e}")))?;
        Ok(TlsConfig {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// Performs the TLS handshake over `stream`.
    pub(crate) async fn wrap(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, Error> {
        self.connector
            .connect(self.server_name.clone(), stream)
            .await
            .map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("TLS handshake failed: {e}"),
                ))
            })
    }
}
