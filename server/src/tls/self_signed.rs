//! `--tls-self-signed`: a certificate for localhost and 127.0.0.1, made at start so that
//! `https://` can be tried in one step. Its certificate goes to a file for the person to
//! trust; the key stays in memory.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::PrivateKeyDer;

use super::LoadError;
use super::load;

/// The names the certificate is valid for (an IP address becomes an IP address entry).
const NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// Makes the certificate, writes it (PEM) to a file named after this process, and returns
/// that path with the configuration serving it.
pub(super) fn make(http2: bool) -> Result<(PathBuf, Arc<ServerConfig>), LoadError> {
    let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names).map_err(LoadError::Generate)?;
    let path =
        std::env::temp_dir().join(format!("switchyard-self-signed-{}.pem", std::process::id()));
    std::fs::write(&path, made.cert.pem()).map_err(|error| LoadError::Write {
        path: path.clone(),
        error,
    })?;
    let key = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let config =
        load::config(vec![made.cert.der().clone()], key, http2).map_err(LoadError::Rejected)?;
    Ok((path, config))
}
