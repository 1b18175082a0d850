//! The auth layer inside the server stack.

use std::time::Duration;

use protomesh::{
    auth::{AuthLayer, Issuer, MethodPolicy, PolicyTable, SigningKey, Verifier},
    contracts::protomesh::registry::v1::ListInstancesRequest,
};
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::support::{TestServer, health, http_get, test_config};

/// The list path, made admin-only for the test.
const LIST: &str = "/protomesh.registry.v1.RegistryService/ListInstances";

/// With an auth layer, a call without the required role is refused before the handler, the
/// refusal is counted in the metrics with its code, the right role passes, and health stays
/// public.
#[tokio::test]
async fn auth_refusals_are_counted_and_roles_pass() {
    let key = SigningKey::generate("k1").unwrap();
    let verifier = Verifier::new(vec![key.public()]);
    let issuer = Issuer::new(key, "protomesh");
    let mut policies = PolicyTable::protomesh().unwrap();
    policies.insert(LIST, MethodPolicy::Roles(vec!["admin".into()]));
    let auth = AuthLayer::new(policies, verifier);
    let server = TestServer::start_with(test_config(), None, |b| b.auth(auth)).await;
    let mut client = server.client().await;

    let anonymous = client
        .list_instances(ListInstancesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let token = issuer
        .issue("u1", &["admin"], Duration::from_secs(60))
        .unwrap()
        .token;
    let mut request = Request::new(ListInstancesRequest::default());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert!(client.list_instances(request).await.is_ok());

    let status = health(server.channel().await, "").await.unwrap();
    assert_eq!(status, ServingStatus::Serving);
    let (_, text) = http_get(server.admin, "/metrics").await;
    let refused = r#"grpc_server_handled_total{grpc_service="protomesh.registry.v1.RegistryService",grpc_method="ListInstances",grpc_type="unary",grpc_code="Unauthenticated"} 1"#;
    assert!(text.contains(refused), "{text}");
    server.stop().await.unwrap();
}
