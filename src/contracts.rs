//! Generated code for every contract in `proto/`, one module per proto package
//! (`contracts::shop::cart::v1` is the package `shop.cart.v1`).

/// The encoded `google.protobuf.FileDescriptorSet` of every contract, imports included, with
/// source info (comments) and custom options (`google.api.http`, `protomesh.auth.v1.policy`).
/// Server reflection and the gateway read it.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));

/// Includes the generated code of one proto package.
macro_rules! package {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}

/// The `google.*` packages protomesh defines itself.
pub mod google {
    /// `google.api`: the HTTP rule annotations read by the gateway.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod api {
        package!("google.api");
    }
}

/// Platform contracts.
pub mod protomesh {
    /// `protomesh.auth.v1`: the per-method access policy option.
    pub mod auth {
        /// Version 1.
        #[allow(missing_docs, unreachable_pub, clippy::all)]
        pub mod v1 {
            package!("protomesh.auth.v1");
        }
    }
    /// `protomesh.registry.v1`: the embedded service registry.
    pub mod registry {
        /// Version 1.
        #[allow(missing_docs, unreachable_pub, clippy::all)]
        pub mod v1 {
            package!("protomesh.registry.v1");
        }
    }
}

/// The reference shop's contracts.
pub mod shop {
    /// `shop.common.v1`: types shared by the shop's services.
    pub mod common {
        /// Version 1.
        #[allow(missing_docs, unreachable_pub, clippy::all)]
        pub mod v1 {
            package!("shop.common.v1");
        }
    }
    /// `shop.users.v1`: accounts and tokens.
    pub mod users {
        /// Version 1.
        #[allow(missing_docs, unreachable_pub, clippy::all)]
        pub mod v1 {
            package!("shop.users.v1");
        }
    }
    /// `shop.catalog.v1`: products, prices and stock.
    pub mod catalog {
        /// Version 1.
        #[allow(missing_docs, unreachable_pub, clippy::all)]
        pub mod v1 {
            package!("shop.catalog.v1");
        }
    }
    /// `shop.cart.v1`: carts.
    pub mod cart {
        /// Version 1.
        #[allow(missing_docs, unreachable_pub, clippy::all)]
        pub mod v1 {
            package!("shop.cart.v1");
        }
    }
    /// `shop.orders.v1`: orders.
    pub mod orders {
        /// Version 1.
        #[allow(missing_docs, unreachable_pub, clippy::all)]
        pub mod v1 {
            package!("shop.orders.v1");
        }
    }
}

#[cfg(test)]
mod tests {
    use prost_reflect::{DescriptorPool, Value};

    use super::FILE_DESCRIPTOR_SET;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
    }

    /// The descriptor set holds every service of the platform and the shop, the Python
    /// recommendations service's contract included (so Rust code can call it).
    #[test]
    fn holds_every_service() {
        let pool = pool();
        let mut names: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "protomesh.registry.v1.RegistryService",
                "shop.cart.v1.CartService",
                "shop.catalog.v1.CatalogService",
                "shop.orders.v1.OrderService",
                "shop.recommendations.v1.RecommendationService",
                "shop.users.v1.UserService",
            ]
        );
    }

    /// The `google.api.http` rules survive compilation, with their verbs, paths and bodies.
    #[test]
    fn keeps_http_rules() {
        let pool = pool();
        let http = pool
            .get_extension_by_name("google.api.http")
            .expect("http extension");
        let rule = |method: &str| {
            let (service, method) = method.rsplit_once('.').unwrap();
            let m = pool
                .get_service_by_name(service)
                .unwrap()
                .methods()
                .find(|m| m.name() == method)
                .unwrap();
            let options = m.options();
            let Value::Message(rule) = options.get_extension(&http).into_owned() else {
                panic!("{method} has no http rule");
            };
            let (verb, path) = ["get", "put", "post", "delete", "patch"]
                .into_iter()
                .find_map(|verb| match rule.get_field_by_name(verb)?.into_owned() {
                    Value::String(p) if !p.is_empty() => Some((verb, p)),
                    _ => None,
                })
                .unwrap_or(("", String::new()));
            let body = rule
                .get_field_by_name("body")
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
            (verb.to_owned(), path, body)
        };
        let expect = |m: &str, verb: &str, path: &str, body: &str| {
            assert_eq!(
                rule(m),
                (verb.to_owned(), path.to_owned(), body.to_owned()),
                "{m}"
            );
        };
        expect(
            "shop.catalog.v1.CatalogService.ListProducts",
            "get",
            "/v1/products",
            "",
        );
        expect(
            "shop.catalog.v1.CatalogService.GetProduct",
            "get",
            "/v1/products/{product_id}",
            "",
        );
        expect(
            "shop.cart.v1.CartService.AddCartItem",
            "post",
            "/v1/cart/items",
            "*",
        );
        expect(
            "shop.cart.v1.CartService.RemoveCartItem",
            "delete",
            "/v1/cart/items/{product_id}",
            "",
        );
        expect(
            "shop.orders.v1.OrderService.CreateOrder",
            "post",
            "/v1/orders",
            "*",
        );
        expect(
            "shop.orders.v1.OrderService.CancelOrder",
            "post",
            "/v1/orders/{order_id}:cancel",
            "*",
        );
        expect(
            "shop.orders.v1.OrderService.GetOrder",
            "get",
            "/v1/orders/{order_id}",
            "",
        );
        expect(
            "shop.users.v1.UserService.RegisterUser",
            "post",
            "/v1/users",
            "*",
        );
        expect(
            "shop.users.v1.UserService.Login",
            "post",
            "/v1/sessions",
            "*",
        );
        expect(
            "shop.users.v1.UserService.GetCurrentUser",
            "get",
            "/v1/users/me",
            "",
        );
        expect(
            "protomesh.registry.v1.RegistryService.ListInstances",
            "get",
            "/v1/registry/instances",
            "",
        );
    }

    /// Every method declares an access policy, and comments survive as source info.
    #[test]
    fn every_method_has_a_policy_and_docs() {
        let pool = pool();
        let policy = pool
            .get_extension_by_name("protomesh.auth.v1.policy")
            .expect("policy extension");
        let mut count = 0;
        for service in pool.services() {
            for method in service.methods() {
                assert!(
                    method.options().has_extension(&policy),
                    "{} has no policy",
                    method.full_name()
                );
                let docs = method
                    .parent_file()
                    .file_descriptor_proto()
                    .source_code_info
                    .clone();
                assert!(
                    docs.is_some_and(|d| !d.location.is_empty()),
                    "{} lost its comments",
                    method.full_name()
                );
                count += 1;
            }
        }
        assert_eq!(count, 25);
    }
}
