//! Health, reflection and error details of a kit server.

use protomesh::{contracts::protomesh::registry::v1::RegisterRequest, error::field_violations};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::support::{SERVICE, TestServer, health, test_config};

/// Health answers SERVING for the server and each registered service, NOT_FOUND otherwise.
#[tokio::test]
async fn health_reports_each_service() {
    let server = TestServer::start(test_config()).await;
    let channel = server.channel().await;

    assert_eq!(
        health(channel.clone(), "").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        health(channel.clone(), SERVICE).await.unwrap(),
        ServingStatus::Serving
    );
    let unknown = health(channel, "shop.catalog.v1.CatalogService").await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);
    server.stop().await.unwrap();
}

/// The services reflection v1 lists.
async fn list_v1(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match responses.next().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// The services reflection v1alpha lists.
async fn list_v1alpha(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match responses.next().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// Reflection v1 and v1alpha both list exactly the served services (not every contract).
#[tokio::test]
async fn reflection_lists_served_services_in_both_versions() {
    let server = TestServer::start(test_config()).await;
    let channel = server.channel().await;

    let mut expected = vec![
        "grpc.health.v1.Health".to_string(),
        "grpc.reflection.v1.ServerReflection".to_string(),
        "grpc.reflection.v1alpha.ServerReflection".to_string(),
        SERVICE.to_string(),
    ];
    expected.sort();
    let mut v1 = list_v1(channel.clone()).await;
    v1.sort();
    let mut v1alpha = list_v1alpha(channel).await;
    v1alpha.sort();
    assert_eq!(v1, expected);
    assert_eq!(v1alpha, expected);
    server.stop().await.unwrap();
}

/// Whether reflection v1 describes `symbol` (FileContainingSymbol answers with files).
async fn describes_v1(channel: tonic::transport::Channel, symbol: &str) -> bool {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    matches!(
        responses.next().await.unwrap().unwrap().message_response,
        Some(MessageResponse::FileDescriptorResponse(files)) if !files.file_descriptor_proto.is_empty()
    )
}

/// Whether reflection v1alpha describes `symbol` (FileContainingSymbol answers with files).
async fn describes_v1alpha(channel: tonic::transport::Channel, symbol: &str) -> bool {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    matches!(
        responses.next().await.unwrap().unwrap().message_response,
        Some(MessageResponse::FileDescriptorResponse(files)) if !files.file_descriptor_proto.is_empty()
    )
}

/// Each reflection version describes every service it lists, the other version's included
/// (k6 and other reflection v1 clients resolve the whole list before their first call).
#[tokio::test]
async fn reflection_describes_every_listed_service() {
    let server = TestServer::start(test_config()).await;
    let channel = server.channel().await;

    for name in list_v1(channel.clone()).await {
        assert!(
            describes_v1(channel.clone(), &name).await,
            "v1 describes {name}"
        );
        assert!(
            describes_v1alpha(channel.clone(), &name).await,
            "v1alpha describes {name}"
        );
    }
    server.stop().await.unwrap();
}

/// INVALID_ARGUMENT built with the error helpers reaches the client with its BadRequest.
#[tokio::test]
async fn field_violations_cross_the_wire() {
    let server = TestServer::start(test_config()).await;
    let status = server
        .client()
        .await
        .register(RegisterRequest::default())
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        field_violations(&status),
        vec![("instance".to_string(), "is required".to_string())]
    );
    server.stop().await.unwrap();
}
