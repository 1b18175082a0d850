//! Loads the descriptor pool: compiled in (all, or without some services), from a file, or by
//! server reflection.

use prost_reflect::DescriptorPool;
use tonic::transport::Channel;

use crate::{Error, config::DescriptorSource, reflection};

/// Loads the pool `source` names; reflection asks every channel in `targets`.
pub async fn load(
    source: &DescriptorSource,
    targets: &[(String, Channel)],
) -> Result<DescriptorPool, Error> {
    match source {
        DescriptorSource::Compiled => DescriptorPool::decode(protomesh::FILE_DESCRIPTOR_SET)
            .map_err(|e| Error::Descriptors(e.to_string())),
        DescriptorSource::Image(path) => {
            let bytes = std::fs::read(path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            DescriptorPool::decode(bytes.as_slice())
                .map_err(|e| Error::Descriptors(format!("{}: {e}", path.display())))
        }
        DescriptorSource::Reflection => {
            let mut pool = DescriptorPool::new();
            for (target, channel) in targets {
                reflection::fetch_into(&mut pool, channel.clone())
                    .await
                    .map_err(|reason| Error::Reflection {
                        target: target.clone(),
                        reason,
                    })?;
            }
            Ok(pool)
        }
    }
}

/// The compiled-in contracts without the files that define any of `services` (fully-qualified
/// gRPC service names), so their routes can come from the running service by reflection
/// instead (see [`crate::live`]).
pub fn compiled_without(services: &[&str]) -> Result<DescriptorPool, Error> {
    /// A `FileDescriptorSet` with each file kept as encoded bytes, options intact.
    #[derive(Clone, PartialEq, prost::Message)]
    struct EncodedSet {
        #[prost(bytes = "bytes", repeated, tag = "1")]
        file: Vec<bytes::Bytes>,
    }
    use prost::Message as _;
    let bad = |e: prost::DecodeError| Error::Descriptors(e.to_string());
    let mut set = EncodedSet::decode(protomesh::FILE_DESCRIPTOR_SET).map_err(bad)?;
    let mut kept = Vec::with_capacity(set.file.len());
    for bytes in set.file.drain(..) {
        let file = prost_types::FileDescriptorProto::decode(bytes.clone()).map_err(bad)?;
        let package = file.package();
        let defines_excluded = file.service.iter().any(|s| {
            let name = format!("{package}.{}", s.name());
            services.contains(&name.as_str())
        });
        if !defines_excluded {
            kept.push(bytes);
        }
    }
    DescriptorPool::decode(EncodedSet { file: kept }.encode_to_vec().as_slice())
        .map_err(|e| Error::Descriptors(e.to_string()))
}
