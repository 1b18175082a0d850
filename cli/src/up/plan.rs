//! Which instances `protomesh up` runs, and on which fixed, documented ports.

use std::{fmt, net::SocketAddr};

/// The roles a protomesh process can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// The embedded service registry.
    Registry,
    /// The shop's user accounts.
    Users,
    /// The shop's product catalog.
    Catalog,
    /// The shop's carts.
    Cart,
    /// The shop's orders.
    Orders,
    /// The gRPC-JSON gateway.
    Gateway,
}

impl Role {
    /// Every role, in start order: the registry first, the gateway last.
    pub(crate) const ALL: [Role; 6] = [
        Role::Registry,
        Role::Users,
        Role::Catalog,
        Role::Cart,
        Role::Orders,
        Role::Gateway,
    ];

    /// The role's name on the command line and in discovery.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Registry => "registry",
            Role::Users => "users",
            Role::Catalog => "catalog",
            Role::Cart => "cart",
            Role::Orders => "orders",
            Role::Gateway => "gateway",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The registry's gRPC port on one machine.
pub(crate) const DEFAULT_REGISTRY_PORT: u16 = 50051;
/// The gateway's HTTP port on one machine.
pub(crate) const DEFAULT_GATEWAY_PORT: u16 = 8080;
/// Admin (metrics, health) ports are the gRPC port's last three digits under 9000:
/// 50051 -> 9051. The gateway's admin port is 9080.
const ADMIN_PORT_BASE: u16 = 9000;
/// Replicas of the catalog `up` starts, so that balancing is visible.
pub(crate) const DEFAULT_CATALOG_REPLICAS: u16 = 2;

/// One process `up` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    /// What it runs.
    pub(crate) role: Role,
    /// Its instance id, unique on this machine, such as `catalog-2`.
    pub(crate) id: String,
    /// Where it serves gRPC (HTTP for the gateway).
    pub(crate) listen: SocketAddr,
    /// Where it serves `/metrics`, `/healthz` and `/readyz`.
    pub(crate) admin: SocketAddr,
}

/// The instances of the whole platform on 127.0.0.1: registry 50051, users 50061, catalog
/// 50062.., cart 50071, orders 50081, gateway 8080; admin ports 9051, 9061, 9062.., 9071, 9081,
/// 9080.
pub(crate) fn default_plan(catalog_replicas: u16) -> Vec<Instance> {
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let mut plan = Vec::new();
    let mut push = |role: Role, n: u16, grpc_port: u16, admin_port: u16| {
        plan.push(Instance {
            role,
            id: format!("{role}-{n}"),
            listen: at(grpc_port),
            admin: at(admin_port),
        });
    };
    for role in Role::ALL {
        match role {
            Role::Registry => push(role, 1, DEFAULT_REGISTRY_PORT, ADMIN_PORT_BASE + 51),
            Role::Users => push(role, 1, 50061, ADMIN_PORT_BASE + 61),
            Role::Catalog => {
                for n in 1..=catalog_replicas.max(1) {
                    push(role, n, 50061 + n, ADMIN_PORT_BASE + 61 + n);
                }
            }
            Role::Cart => push(role, 1, 50071, ADMIN_PORT_BASE + 71),
            Role::Orders => push(role, 1, 50081, ADMIN_PORT_BASE + 81),
            Role::Gateway => push(role, 1, DEFAULT_GATEWAY_PORT, ADMIN_PORT_BASE + 80),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan starts every role once, the catalog twice, on distinct ports.
    #[test]
    fn default_plan_has_distinct_ports() {
        let plan = default_plan(DEFAULT_CATALOG_REPLICAS);
        let ids: Vec<&str> = plan.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "registry-1",
                "users-1",
                "catalog-1",
                "catalog-2",
                "cart-1",
                "orders-1",
                "gateway-1"
            ]
        );
        let mut ports: Vec<u16> = plan
            .iter()
            .flat_map(|i| [i.listen.port(), i.admin.port()])
            .collect();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), plan.len() * 2);
    }
}
