//! TLS settings of the gRPC listener, read from PEM files.

use std::path::Path;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use super::ServerError;
use crate::config::TlsConfig;

/// Reads the certificate, key and (for mutual TLS) client CA files.
pub(crate) fn server_tls(config: &TlsConfig) -> Result<ServerTlsConfig, ServerError> {
    let identity = Identity::from_pem(read(&config.cert)?, read(&config.key)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(tls)
}

/// Reads one file, naming it on error.
fn read(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::TlsFile {
        path: path.to_path_buf(),
        source,
    })
}
