//! The OpenAPI 3.1 document generated from the route table.

use crate::routes::RouteTable;

/// The document for `table`.
pub fn document(_table: &RouteTable) -> serde_json::Value {
    serde_json::json!({"openapi": "3.1.0"})
}
