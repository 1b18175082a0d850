//! Fetches descriptors from an upstream by gRPC server reflection: `grpc.reflection.v1`, or
//! `grpc.reflection.v1alpha` when the server only speaks that.
//!
//! File descriptors are kept as the encoded bytes the server sent, so custom options such as
//! `google.api.http` survive (decoding them into `prost_types` would drop them).

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use prost::Message as _;
use prost_reflect::DescriptorPool;
use tonic::transport::Channel;

use crate::upstream::{Upstream, upstream};

/// Defines `fetch_files` for one version of the reflection protocol.
macro_rules! version {
    ($name:ident, $pb:path) => {
        async fn $name(channel: Upstream) -> Result<Vec<(String, Bytes)>, tonic::Status> {
            use pb::{
                ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
                server_reflection_request::MessageRequest,
                server_reflection_response::MessageResponse,
            };
            use $pb as pb;
            let ask = |requests: Vec<MessageRequest>| {
                let mut client = ServerReflectionClient::new(channel.clone());
                async move {
                    let requests: Vec<ServerReflectionRequest> = requests
                        .into_iter()
                        .map(|r| ServerReflectionRequest {
                            host: String::new(),
                            message_request: Some(r),
                        })
                        .collect();
                    let mut replies = client
                        .server_reflection_info(futures_util::stream::iter(requests))
                        .await?
                        .into_inner();
                    let mut out = Vec::new();
                    while let Some(reply) = replies.message().await? {
                        match reply.message_response {
                            Some(MessageResponse::ErrorResponse(e)) => {
                                return Err(tonic::Status::new(
                                    e.error_code.into(),
                                    e.error_message,
                                ));
                            }
                            Some(other) => out.push(other),
                            None => {}
                        }
                    }
                    Ok::<_, tonic::Status>(out)
                }
            };
            let mut services = Vec::new();
            for reply in ask(vec![MessageRequest::ListServices(String::new())]).await? {
                if let MessageResponse::ListServicesResponse(list) = reply {
                    services.extend(list.service.into_iter().map(|s| s.name));
                }
            }
            services.retain(|s| !s.starts_with("grpc.reflection."));
            let mut asks: Vec<MessageRequest> = services
                .into_iter()
                .map(MessageRequest::FileContainingSymbol)
                .collect();
            let mut files = BTreeMap::new();
            // Servers may answer with the file alone: ask for missing imports until closed.
            while !asks.is_empty() {
                for reply in ask(std::mem::take(&mut asks)).await? {
                    if let MessageResponse::FileDescriptorResponse(found) = reply {
                        for bytes in found.file_descriptor_proto {
                            let file = prost_types::FileDescriptorProto::decode(bytes.as_slice())
                                .map_err(|e| {
                                tonic::Status::internal(format!("bad file descriptor: {e}"))
                            })?;
                            files.insert(
                                file.name.clone().unwrap_or_default(),
                                (file, Bytes::from(bytes)),
                            );
                        }
                    }
                }
                let mut missing: Vec<String> = files
                    .values()
                    .flat_map(|(file, _)| file.dependency.iter())
                    .filter(|dep| !files.contains_key(*dep))
                    .cloned()
                    .collect();
                missing.sort();
                missing.dedup();
                asks = missing
                    .into_iter()
                    .map(MessageRequest::FileByFilename)
                    .collect();
            }
            Ok(files
                .into_iter()
                .map(|(name, (_, bytes))| (name, bytes))
                .collect())
        }
    };
}

version!(fetch_v1, tonic_reflection::pb::v1);
version!(fetch_v1alpha, tonic_reflection::pb::v1alpha);

/// Adds every file the upstream behind `channel` serves (skipping files the pool has) to `pool`.
pub async fn fetch_into(pool: &mut DescriptorPool, channel: Channel) -> Result<(), String> {
    fetch_into_upstream(pool, upstream(channel)).await
}

/// [`fetch_into`] through any upstream, such as the kit's balanced client.
pub async fn fetch_into_upstream(
    pool: &mut DescriptorPool,
    channel: Upstream,
) -> Result<(), String> {
    let files = match fetch_v1(channel.clone()).await {
        Ok(files) => files,
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            fetch_v1alpha(channel).await.map_err(|s| s.to_string())?
        }
        Err(status) => return Err(status.to_string()),
    };
    let by_name: BTreeMap<String, Bytes> = files
        .into_iter()
        .filter(|(name, _)| pool.get_file_by_name(name).is_none())
        .collect();
    let mut set = BytesMut::new();
    for bytes in by_name.values() {
        prost::encoding::bytes::encode(1, bytes, &mut set);
    }
    pool.decode_file_descriptor_set(set.freeze())
        .map_err(|e| e.to_string())
}
