//! The orders service's upstreams, the cart and the catalog, and the channel type they are
//! reached through.
//!
//! Swap [`Upstream`] for the kit's balanced client here, and nowhere else.

use std::time::Duration;

use tonic::{
    Request,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};

use crate::Error;

/// The channel the orders service calls the cart and the catalog through.
pub type Upstream = Channel;

/// How long one upstream call may take.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel to `url` that connects on first use (and reconnects after failures).
pub fn lazy(url: &str) -> Result<Upstream, Error> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|source| Error::BadUpstreamUrl {
            url: url.to_owned(),
            source,
        })?
        .connect_lazy())
}

/// `message` as an upstream request carrying `token` and the upstream deadline.
pub fn with_token<T>(message: T, token: &str) -> Result<Request<T>, Error> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Error::Internal("a token is not valid metadata"))?;
    request.metadata_mut().insert("authorization", value);
    request.set_timeout(UPSTREAM_TIMEOUT);
    Ok(request)
}
