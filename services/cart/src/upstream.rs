//! The cart's one upstream, the catalog, and the channel type it is reached through.
//!

use protomesh::client::BalancedChannel;

use crate::Error;

/// The channel the cart calls the catalog through.
pub type Upstream = BalancedChannel;

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
