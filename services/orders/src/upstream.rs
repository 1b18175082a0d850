//! The orders service's upstreams, the cart and the catalog, and the channel type they are
//! reached through.

use std::time::Duration;

use tonic::{Request, metadata::MetadataValue};

use protomesh::client::BalancedChannel;

use crate::Error;

/// The channel the orders service calls the cart and the catalog through.
pub type Upstream = BalancedChannel;

/// How long one upstream call may take.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// A balanced channel to `url` (`http://host:port`, or any kit target such as
/// `static://a:1,b:2` or `dns://name:port`); endpoints connect on first use.
pub fn lazy(url: &str) -> Result<Upstream, Error> {
    balanced(url, None)
}

/// A balanced channel to `target`, through the kit's client: `registry://catalog` (with the
/// registry's address), `dns://name:port`, `static://a:1,b:2`, or `http://host:port`.
pub fn balanced(target: &str, registry: Option<&str>) -> Result<Upstream, Error> {
    let kit_target = match target.strip_prefix("http://") {
        Some(address) => format!("static://{}", address.trim_end_matches('/')),
        None => target.to_owned(),
    };
    let mut builder = BalancedChannel::builder(kit_target);
    if let Some(registry) = registry {
        builder = builder.registry(registry);
    }
    builder.build().map_err(|source| Error::BadUpstreamUrl {
        url: target.to_owned(),
        source,
    })
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
