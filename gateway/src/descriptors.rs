//! Loads the descriptor pool: compiled in, from a file, or by server reflection.

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
