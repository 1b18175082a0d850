//! Compiles every contract in `proto/` with protox (no system `protoc` needed), generates the
//! tonic clients and servers, and writes one `FileDescriptorSet` (with source info, so comments
//! survive, and with custom options intact) that reflection and the gateway read.

use std::{
    fs,
    path::{Path, PathBuf},
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new("proto");
    println!("cargo:rerun-if-changed=proto");

    let mut files = Vec::new();
    collect_protos(proto_root, proto_root, &mut files)?;
    files.sort();

    let mut compiler = protox::Compiler::new([proto_root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&files)?;

    // The encoded set keeps extension options such as `google.api.http`, which the typed
    // `prost_types` copy would drop.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("descriptor_set.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    use_kit_grpc(&out_dir)
}

/// Points the generated servers at the kit's `server::grpc::Grpc`, a drop-in for tonic's
/// `server::Grpc` with a leaner unary path, and has them box each call's future with
/// `server::grpc::boxed`. Fails the build if tonic's generated code no longer calls
/// `tonic::server::Grpc::new`, or boxes a future another way, so a change there cannot go
/// unnoticed.
fn use_kit_grpc(out_dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    const TONIC: &str = "tonic::server::Grpc::new(";
    const KIT: &str = "crate::server::grpc::Grpc::new(";
    const FUTURE: &str = "let fut = async move {";
    const KIT_FUTURE: &str = "let fut = move || async move {";
    const PIN: &str = "Box::pin(fut)";
    const KIT_PIN: &str = "crate::server::grpc::boxed(fut)";
    let mut rewritten = 0;
    for entry in fs::read_dir(out_dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let code = fs::read_to_string(&path)?;
        let count = code.matches(TONIC).count();
        if count > 0 {
            // Each call's future, built in its box (see `server::grpc::boxed`): every
            // `let fut = async move {` is returned by a `Box::pin(fut)`.
            let (futures, pins) = (code.matches(FUTURE).count(), code.matches(PIN).count());
            if futures != pins {
                return Err(format!(
                    "{}: {futures} `{FUTURE}` but {pins} `{PIN}`",
                    path.display()
                )
                .into());
            }
            let code = code
                .replace(TONIC, KIT)
                .replace(FUTURE, KIT_FUTURE)
                .replace(PIN, KIT_PIN);
            fs::write(&path, code)?;
            rewritten += count;
        }
    }
    if rewritten == 0 {
        return Err(format!("no `{TONIC}` in the generated servers").into());
    }
    Ok(())
}

/// Collects every `.proto` file under `dir`, as paths relative to `root`.
fn collect_protos(
    root: &Path,
    dir: &Path,
    out: &mut Vec<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}
