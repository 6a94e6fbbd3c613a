//! How many orders one principal may place in an hour (`ORDERS_PER_PRINCIPAL_PER_HOUR`). Every
//! accepted order texts a carrier: with self sign-up, a script of new accounts could otherwise
//! spend the account's SMS budget, which stops every SMS once reached. The web ACL limits each
//! token at the edge; this limits the principal (a token's `sub`) across its tokens.
//!
//! The hour is the clock's (UTC), not a sliding window: simple to count in one item, and at
//! worst twice the limit across an hour's boundary, which the limit's choice allows for.

use chrono::{DateTime, Utc};

use crate::Error;

/// The most a deployment may set: one principal's hour is counted in one stored item, which
/// keeps each order id it counted (so that a retried request is never counted twice).
pub const MOST_PER_HOUR: u32 = 1_000;

/// The limit of orders per principal per hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRate {
    per_hour: u32,
}

/// One principal's counting window: the hour it is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderWindow {
    /// The hour's start, in seconds since the epoch (the stored count's name).
    pub hour: i64,
    /// Seconds until the next hour (a refused client's `Retry-After`).
    pub ends_in: u64,
    pub limit: u32,
}

impl OrderRate {
    /// The rate from its setting: a whole number from 1 to [`MOST_PER_HOUR`].
    pub fn parse(value: &str) -> Result<OrderRate, String> {
        match value.trim().parse::<u32>() {
            Ok(n) if (1..=MOST_PER_HOUR).contains(&n) => Ok(OrderRate { per_hour: n }),
            _ => Err(format!(
                "must be a whole number from 1 to {MOST_PER_HOUR}, not {value:?}"
            )),
        }
    }

    pub fn per_hour(&self) -> u32 {
        self.per_hour
    }

    /// The window `now` falls in.
    pub fn window(&self, now: DateTime<Utc>) -> OrderWindow {
        let seconds = now.timestamp();
        let hour = seconds - seconds.rem_euclid(3600);
        OrderWindow {
            hour,
            ends_in: (hour + 3600 - seconds) as u64,
            limit: self.per_hour,
        }
    }

    /// The answer to an order past the limit.
    pub fn refused(&self, window: &OrderWindow) -> Error {
        Error::TooManyRequests {
            detail: format!(
                "At most {} orders an hour may be placed by one customer: try again in {} seconds",
                self.per_hour, window.ends_in
            ),
            retry_after: window.ends_in,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_setting_is_a_whole_number_within_the_bound() {
        assert_eq!(OrderRate::parse("60").unwrap().per_hour(), 60);
        assert_eq!(OrderRate::parse(" 1 ").unwrap().per_hour(), 1);
        assert_eq!(OrderRate::parse("1000").unwrap().per_hour(), 1000);
        for refused in ["0", "1001", "-1", "2.5", "", "sixty"] {
            assert!(OrderRate::parse(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn the_window_is_the_clocks_hour() {
        let rate = OrderRate::parse("5").unwrap();
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 12, 3, h, m, s).unwrap();
        let start = at(14, 0, 0).timestamp();
        assert_eq!(
            rate.window(at(14, 0, 0)),
            OrderWindow {
                hour: start,
                ends_in: 3600,
                limit: 5
            }
        );
        assert_eq!(rate.window(at(14, 59, 59)).hour, start);
        assert_eq!(rate.window(at(14, 59, 59)).ends_in, 1);
        assert_eq!(rate.window(at(15, 0, 0)).hour, start + 3600);
        assert_eq!(rate.window(at(14, 30, 0)).ends_in, 1800);
    }

    #[test]
    fn a_refusal_says_when_to_come_back() {
        let rate = OrderRate::parse("3").unwrap();
        let window = rate.window(Utc.with_ymd_and_hms(2026, 12, 3, 14, 50, 0).unwrap());
        match rate.refused(&window) {
            Error::TooManyRequests {
                detail,
                retry_after,
            } => {
                assert_eq!(retry_after, 600);
                assert!(detail.contains("At most 3 orders an hour"), "{detail}");
                assert!(detail.contains("600 seconds"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
}
