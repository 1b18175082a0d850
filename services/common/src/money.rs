//! Exact money: an `i64` count of a currency's minor units, never a float.

use protomesh::contracts::shop::common::v1::Money;

/// The currency the shop prices in unless configured otherwise.
pub const DEFAULT_CURRENCY: &str = "USD";

/// A `Money` value.
pub fn money(currency: &str, minor_units: i64) -> Money {
    Money {
        currency_code: currency.to_owned(),
        minor_units,
    }
}

/// Whether `code` looks like an ISO 4217 code: three ASCII capital letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// `unit * quantity`, or `None` on overflow.
pub fn line_total(unit: i64, quantity: i64) -> Option<i64> {
    unit.checked_mul(quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Currency codes are three capitals; totals refuse to overflow.
    #[test]
    fn codes_and_totals() {
        assert!(is_currency_code("USD"));
        assert!(!is_currency_code("usd") && !is_currency_code("US") && !is_currency_code("ÜSD"));
        assert_eq!(line_total(1999, 3), Some(5997));
        assert_eq!(line_total(i64::MAX, 2), None);
        assert_eq!(money("EUR", 5).minor_units, 5);
    }
}
