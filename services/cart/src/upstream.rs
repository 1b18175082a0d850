//! The cart's one upstream, the catalog, and the channel type it is reached through.
//!
//! Swap [`Upstream`] for the kit's balanced client here, and nowhere else.

use tonic::transport::{Channel, Endpoint};

use crate::Error;

/// The channel the cart calls the catalog through.
pub type Upstream = Channel;

/// A channel to `url` that connects on first use (and reconnects after failures).
pub fn lazy(url: &str) -> Result<Upstream, Error> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|source| Error::BadUpstreamUrl {
            url: url.to_owned(),
            source,
        })?
        .connect_lazy())
}
