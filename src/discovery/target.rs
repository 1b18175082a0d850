//! Target strings: `static://a:1,b:2`, `dns://name:port`, `registry://service`.

use std::fmt;

use super::DiscoveryError;

/// A parsed target: which discovery source to use and what it looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A fixed list of `host:port` addresses.
    Static(Vec<String>),
    /// Every address a DNS name resolves to, on this port.
    Dns {
        /// The name to resolve.
        host: String,
        /// The port every resolved address gets.
        port: u16,
    },
    /// The live instances of a logical service, from the registry.
    Registry {
        /// The logical service name, such as `catalog`.
        service: String,
    },
}

impl Target {
    /// Parses a target string.
    pub fn parse(target: &str) -> Result<Self, DiscoveryError> {
        let invalid = |reason| DiscoveryError::InvalidTarget {
            target: target.to_owned(),
            reason,
        };
        let (scheme, rest) = target
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://, such as registry://catalog"))?;
        match scheme {
            "static" => {
                let addresses: Vec<String> = rest
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect();
                if addresses.is_empty() {
                    return Err(invalid("static:// needs at least one host:port"));
                }
                if addresses.iter().any(|a| split_host_port(a).is_none()) {
                    return Err(invalid("every static address must be host:port"));
                }
                Ok(Self::Static(addresses))
            }
            "dns" => {
                let (host, port) =
                    split_host_port(rest).ok_or_else(|| invalid("dns:// needs name:port"))?;
                Ok(Self::Dns {
                    host: host.to_owned(),
                    port,
                })
            }
            "registry" => {
                let valid = !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid {
                    return Err(invalid(
                        "registry:// needs a service name of [A-Za-z0-9-_.]",
                    ));
                }
                Ok(Self::Registry {
                    service: rest.to_owned(),
                })
            }
            _ => Err(invalid("unknown scheme: use static, dns or registry")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(addresses) => write!(f, "static://{}", addresses.join(",")),
            Self::Dns { host, port } => write!(f, "dns://{host}:{port}"),
            Self::Registry { service } => write!(f, "registry://{service}"),
        }
    }
}

/// Splits `host:port` (or `[v6]:port`) into a non-empty host and a port.
pub(crate) fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().ok()?;
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each scheme parses into its source, and the display form round-trips.
    #[test]
    fn parses_each_scheme() {
        let cases = [
            (
                "static://127.0.0.1:1,127.0.0.1:2",
                Target::Static(vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()]),
            ),
            (
                "dns://catalog.shop.svc:50051",
                Target::Dns {
                    host: "catalog.shop.svc".into(),
                    port: 50051,
                },
            ),
            (
                "registry://catalog",
                Target::Registry {
                    service: "catalog".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            let parsed = Target::parse(text).unwrap();
            assert_eq!(parsed, expected);
            assert_eq!(parsed.to_string(), text);
        }
    }

    /// Malformed targets are rejected with an error, never a panic.
    #[test]
    fn rejects_bad_targets() {
        for bad in [
            "catalog",
            "http://x:1",
            "static://",
            "static://a",
            "static://a:notaport",
            "dns://name",
            "dns://:80",
            "registry://",
            "registry://a/b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
