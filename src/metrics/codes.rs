//! gRPC status codes as metric label values, spelled as the established `grpc_code` label
//! of go-grpc-prometheus (`OK`, `NotFound`, `ResourceExhausted`, ...), so existing
//! dashboards and alerts work unchanged.

use tonic::Code;

/// The label value of every code, indexed by the code's number (0..=16).
pub const CODE_LABELS: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// The label value of `code`.
pub fn code_label(code: Code) -> &'static str {
    CODE_LABELS[code_index(code)]
}

/// The index of `code` in [`CODE_LABELS`]; codes outside the table count as `Unknown`.
pub fn code_index(code: Code) -> usize {
    let n = code as usize;
    if n < CODE_LABELS.len() { n } else { 2 }
}
