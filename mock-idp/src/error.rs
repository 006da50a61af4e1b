//! The crate's one error type, in a module of its own so that every other module can name it
//! without importing the crate root (which imports them all).

use std::net::SocketAddr;

/// What went wrong starting or changing a mock IdP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A tenant could not be added.
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
    /// The TLS certificates or configuration could not be made.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}
