//! Validated cart changes.

use protomesh::contracts::shop::cart::v1::{AddCartItemRequest, RemoveCartItemRequest};
use shop_common::Violations;

/// The longest product id.
pub const MAX_PRODUCT_ID_LEN: usize = 64;
/// The most units one add may put in.
pub const MAX_ADD_QUANTITY: i64 = 1000;
/// The most units of one product a cart may hold.
pub const MAX_LINE_QUANTITY: i64 = 1000;
/// The most distinct products a cart may hold (an order's lines are capped the same).
pub const MAX_ITEMS: i64 = 100;

/// Units of a product to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addition {
    /// The product.
    pub product_id: String,
    /// The units, 1 to [`MAX_ADD_QUANTITY`].
    pub quantity: i64,
}

impl Addition {
    /// Validates an add request.
    pub fn parse(request: AddCartItemRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let product_id = v.id("product_id", &request.product_id, MAX_PRODUCT_ID_LEN);
        if !(1..=MAX_ADD_QUANTITY).contains(&request.quantity) {
            v.add("quantity", format!("must be 1 to {MAX_ADD_QUANTITY}"));
        }
        v.into_result(Addition {
            product_id,
            quantity: request.quantity,
        })
    }
}

/// Validates a remove request's product id.
pub fn removal(request: &RemoveCartItemRequest) -> Result<String, Violations> {
    let mut v = Violations::new();
    let id = v.id("product_id", &request.product_id, MAX_PRODUCT_ID_LEN);
    v.into_result(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantities outside 1..=1000 and malformed ids are named.
    #[test]
    fn additions_are_checked() {
        for quantity in [0, -1, 1001] {
            let err = Addition::parse(AddCartItemRequest {
                product_id: "p".into(),
                quantity,
            })
            .unwrap_err();
            assert_eq!(err.fields()[0].0, "quantity");
        }
        let err = Addition::parse(AddCartItemRequest {
            product_id: "".into(),
            quantity: 1,
        })
        .unwrap_err();
        assert_eq!(err.fields()[0].0, "product_id");
        assert!(
            removal(&RemoveCartItemRequest {
                product_id: "a/b".into()
            })
            .is_err()
        );
    }
}
