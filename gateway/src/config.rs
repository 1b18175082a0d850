//! The gateway's typed configuration.

use std::{collections::BTreeMap, path::PathBuf};

use crate::transcoder::TranscodeSettings;

/// Where the route table's descriptors come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DescriptorSource {
    /// `protomesh::FILE_DESCRIPTOR_SET`, every contract compiled into protomesh.
    #[default]
    Compiled,
    /// A `buf build` image (or any encoded `FileDescriptorSet`) read from this file.
    Image(PathBuf),
    /// Fetched from every configured upstream by gRPC server reflection (v1, then v1alpha).
    Reflection,
}

/// Everything [`crate::run`] needs.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// Where the descriptors come from.
    pub descriptors: DescriptorSource,
    /// Fully-qualified gRPC service name to upstream target URI (`http://127.0.0.1:50051`).
    pub upstreams: BTreeMap<String, String>,
    /// The target of services without an entry in `upstreams`.
    pub default_upstream: Option<String>,
    /// How requests are transcoded.
    pub transcode: TranscodeSettings,
}

impl GatewayConfig {
    /// Every distinct upstream target.
    pub fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self
            .upstreams
            .values()
            .chain(self.default_upstream.iter())
            .cloned()
            .collect();
        targets.sort();
        targets.dedup();
        targets
    }
}
