//! Compiles the `google.rpc` error model in `proto/` into a descriptor set, so the gateway can
//! render `google.rpc.Status` and its details as JSON whatever descriptors it serves.

use std::{fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true);
    compiler.open_files(["google/rpc/status.proto", "google/rpc/error_details.proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("rpc_descriptor_set.bin");
    fs::write(out, compiler.encode_file_descriptor_set())?;
    Ok(())
}
