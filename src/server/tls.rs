//! TLS settings of the gRPC listener, read from PEM files, as a rustls acceptor.

use std::{path::Path, sync::Arc};

use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        RootCertStore, ServerConfig,
        crypto::ring,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
        server::WebPkiClientVerifier,
    },
};

use super::ServerError;
use crate::config::TlsConfig;

/// The acceptor for `config`: its certificate chain and key, and (for mutual TLS) client
/// certificates required to chain to `client_ca`. ALPN offers HTTP/2, and HTTP/1.1 after it
/// when `http1` (a server with a front layer answers both).
pub(crate) fn acceptor(config: &TlsConfig, http1: bool) -> Result<TlsAcceptor, ServerError> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| ServerError::Tls(format!("{what}: {e}"));
    let certs = CertificateDer::pem_slice_iter(&read(&config.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("certificate", &e))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "no certificate in {}",
            config.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&config.key)?)
        .map_err(|e| invalid("private key", &e))?;
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("protocol versions", &e))?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&read(path)?) {
                let cert = cert.map_err(|e| invalid("client CA", &e))?;
                roots.add(cert).map_err(|e| invalid("client CA", &e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| invalid("client CA", &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|e| invalid("certificate and key", &e))?;
    server.alpn_protocols.push(b"h2".to_vec());
    if http1 {
        server.alpn_protocols.push(b"http/1.1".to_vec());
    }
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// Reads one file, naming it on error.
fn read(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::TlsFile {
        path: path.to_path_buf(),
        source,
    })
}
