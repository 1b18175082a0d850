use std::path::Path;

use super::*;

/// Compiles one test contract (which may import the protomesh ones) into a pool.
pub(crate) fn compile(source: &str) -> DescriptorPool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.proto"), source).unwrap();
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let mut compiler = protox::Compiler::new([dir.path(), contracts.as_path()]).unwrap();
    compiler.open_file("test.proto").unwrap();
    compiler.descriptor_pool()
}

const HEADER: &str = r#"
syntax = "proto3";
package test.v1;
import "protomesh/auth/v1/auth.proto";
message Empty {}
"#;

/// The protomesh contracts yield one declared policy per method, read from the option.
#[test]
fn reads_protomesh_contracts() {
    let table = PolicyTable::protomesh().unwrap();
    assert_eq!(table.len(), 25);
    let get = |path: &str| table.get(path).cloned();
    assert_eq!(
        get("/shop.catalog.v1.CatalogService/ListProducts"),
        Some(MethodPolicy::Public)
    );
    assert_eq!(
        get("/shop.catalog.v1.CatalogService/CreateProduct"),
        Some(MethodPolicy::Roles(vec!["admin".into()]))
    );
    assert_eq!(
        get("/shop.catalog.v1.CatalogService/ReserveStock"),
        Some(MethodPolicy::Roles(vec!["service".into()]))
    );
    assert_eq!(
        get("/shop.recommendations.v1.RecommendationService/ListRecommendations"),
        Some(MethodPolicy::Public)
    );
    assert_eq!(
        get("/shop.users.v1.UserService/GetCurrentUser"),
        Some(MethodPolicy::Authenticated)
    );
    assert!(
        table
            .methods
            .values()
            .all(|p| *p != MethodPolicy::Undeclared)
    );
}

/// Health and both reflection services are public without a declaration; unknown paths
/// are not in the table.
#[test]
fn built_in_public_services() {
    let table = PolicyTable::new();
    for path in [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ] {
        assert_eq!(table.get(path), Some(&MethodPolicy::Public), "{path}");
    }
    for path in ["/grpc.health.v1.Healthy/Check", "/x.Y/Z", "", "/", "nopath"] {
        assert_eq!(table.get(path), None, "{path}");
    }
}

/// A method without the option, or with ACCESS_UNSPECIFIED, is undeclared (denied).
#[test]
fn undeclared_methods() {
    let pool = compile(&format!(
        r#"{HEADER}
        service TestService {{
          rpc Open(Empty) returns (Empty) {{
            option (protomesh.auth.v1.policy) = {{access: ACCESS_AUTHENTICATED}};
          }}
          rpc Forgotten(Empty) returns (Empty);
          rpc Unspecified(Empty) returns (Empty) {{
            option (protomesh.auth.v1.policy) = {{}};
          }}
        }}"#
    ));
    let table = PolicyTable::from_pool(&pool).unwrap();
    assert_eq!(
        table.get("/test.v1.TestService/Open"),
        Some(&MethodPolicy::Authenticated)
    );
    assert_eq!(
        table.get("/test.v1.TestService/Forgotten"),
        Some(&MethodPolicy::Undeclared)
    );
    assert_eq!(
        table.get("/test.v1.TestService/Unspecified"),
        Some(&MethodPolicy::Undeclared)
    );
}

/// Contradictory policies fail at start-up, naming the method.
#[test]
fn invalid_policies_name_the_method() {
    for (body, reason) in [
        ("{access: ACCESS_ROLE}", "ACCESS_ROLE needs"),
        (
            r#"{access: ACCESS_PUBLIC roles: ["admin"]}"#,
            "only allowed with ACCESS_ROLE",
        ),
    ] {
        let pool = compile(&format!(
            "{HEADER} service S {{ rpc M(Empty) returns (Empty) {{ \
             option (protomesh.auth.v1.policy) = {body}; }} }}"
        ));
        let error = PolicyTable::from_pool(&pool).unwrap_err();
        assert!(
            matches!(&error, PolicyError::Invalid { method, reason: r }
                if method == "/test.v1.S/M" && r.contains(reason)),
            "{error}"
        );
    }
    assert!(matches!(
        PolicyTable::from_descriptor_set(b"\xff\xff"),
        Err(PolicyError::Descriptors(_))
    ));
}
