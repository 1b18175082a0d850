//! The order state machine and validated order requests.
//!
//! ```text
//! PENDING ──> CONFIRMED ──> SHIPPED    (final)
//!    │            └───────> CANCELLED  (final)
//!    └──────> FAILED                   (final)
//! ```

use protomesh::contracts::shop::orders::v1::{ListOrdersRequest, OrderStatus};
use shop_common::{Violations, page};

/// The longest request id.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// The longest order id.
pub const MAX_ORDER_ID_LEN: usize = 64;
/// The kind tag of the orders' page tokens.
const PAGE_KIND: &str = "orders";

/// An order's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Being placed: stock is being reserved.
    Pending,
    /// Placed: stock reserved, cart emptied.
    Confirmed,
    /// Handed to delivery.
    Shipped,
    /// Cancelled by the customer; stock returned.
    Cancelled,
    /// Could not be placed; nothing stays reserved.
    Failed,
}

impl Status {
    /// Whether the order can never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Shipped | Status::Cancelled | Status::Failed)
    }

    /// Whether the machine allows `self -> next`.
    pub fn can_become(self, next: Status) -> bool {
        matches!(
            (self, next),
            (Status::Pending, Status::Confirmed)
                | (Status::Pending, Status::Failed)
                | (Status::Confirmed, Status::Shipped)
                | (Status::Confirmed, Status::Cancelled)
        )
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Confirmed => "CONFIRMED",
            Status::Shipped => "SHIPPED",
            Status::Cancelled => "CANCELLED",
            Status::Failed => "FAILED",
        }
    }

    /// The state with a stored name.
    pub fn parse(name: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Confirmed,
            Status::Shipped,
            Status::Cancelled,
            Status::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// The wire enum.
    pub fn to_proto(self) -> OrderStatus {
        match self {
            Status::Pending => OrderStatus::Pending,
            Status::Confirmed => OrderStatus::Confirmed,
            Status::Shipped => OrderStatus::Shipped,
            Status::Cancelled => OrderStatus::Cancelled,
            Status::Failed => OrderStatus::Failed,
        }
    }
}

/// Validates a create request's request id.
pub fn request_id(id: &str) -> Result<String, Violations> {
    let mut v = Violations::new();
    let id = v.id("request_id", id, MAX_REQUEST_ID_LEN);
    v.into_result(id)
}

/// Validates an order id field.
pub fn order_id(id: &str) -> Result<String, Violations> {
    let mut v = Violations::new();
    let id = v.id("order_id", id, MAX_ORDER_ID_LEN);
    v.into_result(id)
}

/// Where a page of a user's orders starts: after this (create time, order id), newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The create time of the last order of the previous page.
    pub create_time: i64,
    /// Its id.
    pub order_id: String,
}

/// One page of a user's orders to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The owner.
    pub user_id: String,
    /// Orders after this cursor.
    pub after: Option<Cursor>,
    /// The page size.
    pub limit: usize,
}

impl ListQuery {
    /// Validates a list request for `user_id`; a token made for another user is refused.
    pub fn parse(request: &ListOrdersRequest, user_id: &str) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let limit = page::page_size(&mut v, request.page_size);
        let after =
            page::decode(&mut v, &request.page_token, PAGE_KIND, 3).and_then(|parts| {
                match (parts[0] == user_id, parts[1].parse::<i64>()) {
                    (true, Ok(create_time)) => Some(Cursor {
                        create_time,
                        order_id: parts[2].clone(),
                    }),
                    _ => {
                        v.add(
                            "page_token",
                            "is not a token issued for this caller's orders",
                        );
                        None
                    }
                }
            });
        v.into_result(ListQuery {
            user_id: user_id.to_owned(),
            after,
            limit,
        })
    }

    /// The token of the page after one ending with `last`.
    pub fn next_token(&self, last: &Cursor) -> String {
        page::encode(
            PAGE_KIND,
            &[&self.user_id, &last.create_time.to_string(), &last.order_id],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the transitions of the diagram are allowed; final states go nowhere.
    #[test]
    fn state_machine() {
        use Status::*;
        let all = [Pending, Confirmed, Shipped, Cancelled, Failed];
        let allowed: Vec<_> = all
            .iter()
            .flat_map(|&a| all.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| a.can_become(b))
            .collect();
        assert_eq!(
            allowed,
            [
                (Pending, Confirmed),
                (Pending, Failed),
                (Confirmed, Shipped),
                (Confirmed, Cancelled)
            ]
        );
        for s in all {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(s.is_final(), all.iter().all(|&n| !s.can_become(n)));
        }
        assert_eq!(Status::parse("nope"), None);
    }

    /// A page token works only for the user it was made for.
    #[test]
    fn page_token_is_bound_to_user() {
        let q = ListQuery::parse(&ListOrdersRequest::default(), "ann").unwrap();
        let token = q.next_token(&Cursor {
            create_time: 42,
            order_id: "o1".into(),
        });
        let request = ListOrdersRequest {
            page_size: 0,
            page_token: token,
        };
        let next = ListQuery::parse(&request, "ann").unwrap();
        assert_eq!(next.after.unwrap().create_time, 42);
        let err = ListQuery::parse(&request, "bob").unwrap_err();
        assert_eq!(err.fields()[0].0, "page_token");
    }
}
