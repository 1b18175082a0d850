//! Health, reflection and error details of a kit server.

use protomesh::{contracts::protomesh::registry::v1::RegisterRequest, error::field_violations};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::support::{SERVICE, TestServer, health, test_config};

/// A reflection client for one protocol version (`v1` and `v1alpha` differ only in package).
macro_rules! reflection_client {
    ($name:ident, $pb:path) => {
        mod $name {
            use tokio_stream::StreamExt as _;
            use $pb as pb;
            use pb::{
                ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
                server_reflection_request::MessageRequest,
                server_reflection_response::MessageResponse,
            };

            /// The first answer to `request`.
            async fn ask(
                channel: tonic::transport::Channel,
                request: MessageRequest,
            ) -> Option<MessageResponse> {
                let request = ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(request),
                };
                let mut responses = ServerReflectionClient::new(channel)
                    .server_reflection_info(tokio_stream::iter([request]))
                    .await
                    .unwrap()
                    .into_inner();
                responses.next().await.unwrap().unwrap().message_response
            }

            /// The services this version lists.
            pub(super) async fn list(channel: tonic::transport::Channel) -> Vec<String> {
                match ask(channel, MessageRequest::ListServices(String::new())).await {
                    Some(MessageResponse::ListServicesResponse(list)) => {
                        list.service.into_iter().map(|s| s.name).collect()
                    }
                    other => panic!("unexpected reflection answer {other:?}"),
                }
            }

            /// Whether this version describes `symbol` (FileContainingSymbol answers with files).
            pub(super) async fn describes(
                channel: tonic::transport::Channel,
                symbol: &str,
            ) -> bool {
                let request = MessageRequest::FileContainingSymbol(symbol.into());
                matches!(
                    ask(channel, request).await,
                    Some(MessageResponse::FileDescriptorResponse(files))
                        if !files.file_descriptor_proto.is_empty()
                )
            }
        }
    };
}

reflection_client!(v1, tonic_reflection::pb::v1);
reflection_client!(v1alpha, tonic_reflection::pb::v1alpha);

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
    let mut v1 = v1::list(channel.clone()).await;
    v1.sort();
    let mut v1alpha = v1alpha::list(channel).await;
    v1alpha.sort();
    assert_eq!(v1, expected);
    assert_eq!(v1alpha, expected);
    server.stop().await.unwrap();
}

/// Each reflection version describes every service it lists, the other version's included
/// (k6 and other reflection v1 clients resolve the whole list before their first call).
#[tokio::test]
async fn reflection_describes_every_listed_service() {
    let server = TestServer::start(test_config()).await;
    let channel = server.channel().await;

    for name in v1::list(channel.clone()).await {
        assert!(
            v1::describes(channel.clone(), &name).await,
            "v1 describes {name}"
        );
        assert!(
            v1alpha::describes(channel.clone(), &name).await,
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
