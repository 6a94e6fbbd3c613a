//! Exact money: integer minor units plus an ISO 4217 currency. Never `f64`.
//!
//! The wire form is `{"amount": "12.50", "currency": "USD"}`: the amount is a decimal string with
//! exactly the currency's minor digits (2 for USD, EUR, GBP, BRL; 0 for JPY).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The currencies the platform trades in, with their ISO 4217 minor-unit exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Usd,
    Eur,
    Gbp,
    Brl,
    Jpy,
}

impl Currency {
    pub const ALL: [Currency; 5] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Brl,
        Currency::Jpy,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Brl => "BRL",
            Currency::Jpy => "JPY",
        }
    }

    /// Number of digits after the decimal point in the currency's minor unit.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    /// Parses an ISO 4217 code exactly (upper case, as on the wire).
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or(MoneyError::UnknownCurrency)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an amount or an operation on money was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency (accepted: USD, EUR, GBP, BRL, JPY)")]
    UnknownCurrency,
    #[error("must be a decimal string with exactly {digits} decimal digits, like \"{example}\"")]
    Format { digits: u32, example: &'static str },
    #[error("must not be negative")]
    Negative,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("is too large")]
    Overflow,
    #[error("currencies differ ({0} and {1})")]
    CurrencyMismatch(Currency, Currency),
}

/// An exact amount of money in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money::from_minor(0, currency)
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Parses the wire form strictly: no sign, no exponent, no spaces, no superfluous leading
    /// zeros, exactly the currency's minor digits.
    pub fn parse(amount: &str, currency: &str) -> Result<Money, MoneyError> {
        let currency = Currency::parse(currency)?;
        let minor = parse_amount(amount, currency)?;
        Ok(Money { minor, currency })
    }

    /// Parses a price: like [`Money::parse`], and strictly positive.
    pub fn parse_price(amount: &str, currency: &str) -> Result<Money, MoneyError> {
        let money = Money::parse(amount, currency)?;
        if money.minor == 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(money)
    }

    /// The decimal amount string of the wire form, e.g. `"12.50"` or `"1200"` for JPY.
    pub fn amount_string(self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exp as usize
        )
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

fn format_error(currency: Currency) -> MoneyError {
    match currency.exponent() {
        0 => MoneyError::Format {
            digits: 0,
            example: "1200",
        },
        _ => MoneyError::Format {
            digits: currency.exponent(),
            example: "12.50",
        },
    }
}

fn parse_amount(amount: &str, currency: Currency) -> Result<i64, MoneyError> {
    if amount.starts_with('-') {
        return Err(MoneyError::Negative);
    }
    let exp = currency.exponent() as usize;
    let (int_part, frac_part) = match amount.split_once('.') {
        Some((i, f)) if exp > 0 => (i, f),
        None if exp == 0 => (amount, ""),
        _ => return Err(format_error(currency)),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = int_part.len() > 1 && int_part.starts_with('0');
    if int_part.is_empty()
        || frac_part.len() != exp
        || !digits_only(int_part)
        || !digits_only(frac_part)
        || leading_zero
    {
        return Err(format_error(currency));
    }
    int_part
        .bytes()
        .chain(frac_part.bytes())
        .try_fold(0i64, |acc, b| {
            acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        })
        .ok_or(MoneyError::Overflow)
}

/// The wire form, used for serde in both directions.
#[derive(Serialize, Deserialize)]
struct WireMoney {
    amount: String,
    currency: String,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireMoney {
            amount: self.amount_string(),
            currency: self.currency.code().to_owned(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireMoney::deserialize(deserializer)?;
        Money::parse(&wire.amount, &wire.currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_print_with_their_sign_only_when_negative() {
        let usd = |minor| Money::from_minor(minor, Currency::Usd);
        assert_eq!(usd(0).amount_string(), "0.00");
        assert_eq!(usd(-1250).amount_string(), "-12.50");
        assert_eq!(usd(-5).amount_string(), "-0.05");
        assert_eq!(
            Money::from_minor(-1200, Currency::Jpy).amount_string(),
            "-1200"
        );
        assert_eq!(usd(1250).to_string(), "12.50 USD");
        assert_eq!(
            Money::from_minor(1200, Currency::Jpy).to_string(),
            "1200 JPY"
        );
    }

    #[test]
    fn a_currency_without_minor_digits_takes_no_decimal_point() {
        for bad in ["12.", "12.0", ".5"] {
            let err = Money::parse(bad, "JPY").unwrap_err();
            assert_eq!(
                err.to_string(),
                "must be a decimal string with exactly 0 decimal digits, like \"1200\"",
                "{bad}"
            );
        }
        let err = Money::parse("12", "USD").unwrap_err();
        assert_eq!(
            err.to_string(),
            "must be a decimal string with exactly 2 decimal digits, like \"12.50\""
        );
    }

    #[test]
    fn parses_and_formats_usd() {
        let m = Money::parse("12.50", "USD").unwrap();
        assert_eq!(m.minor(), 1250);
        assert_eq!(m.amount_string(), "12.50");
        assert_eq!(Money::parse("0.05", "EUR").unwrap().minor(), 5);
    }

    #[test]
    fn jpy_has_no_minor_digits() {
        assert_eq!(Money::parse("1200", "JPY").unwrap().minor(), 1200);
        assert!(matches!(
            Money::parse("1200.00", "JPY"),
            Err(MoneyError::Format { digits: 0, .. })
        ));
    }

    #[test]
    fn refuses_wrong_precision_and_shapes() {
        for bad in [
            "12.5", "12.500", "12", ".50", "12.", "1e3", " 12.50", "+1.00", "01.00", "1,00", "",
        ] {
            assert!(
                matches!(
                    Money::parse(bad, "USD"),
                    Err(MoneyError::Format { digits: 2, .. })
                ),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(Money::parse("-1.00", "USD"), Err(MoneyError::Negative));
        assert_eq!(
            Money::parse("1.00", "usd"),
            Err(MoneyError::UnknownCurrency)
        );
        assert_eq!(
            Money::parse("1.00", "XYZ"),
            Err(MoneyError::UnknownCurrency)
        );
        assert_eq!(
            Money::parse_price("0.00", "USD"),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::parse("99999999999999999999.00", "USD"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let max = Money::from_minor(i64::MAX, Currency::Usd);
        assert_eq!(
            max.checked_add(Money::from_minor(1, Currency::Usd)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert!(matches!(
            Money::zero(Currency::Usd).checked_add(Money::zero(Currency::Eur)),
            Err(MoneyError::CurrencyMismatch(..))
        ));
    }

    #[test]
    fn serde_uses_the_wire_form() {
        let m = Money::parse("25.00", "GBP").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"25.00","currency":"GBP"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":"2.5","currency":"GBP"}"#).is_err());
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        proptest::sample::select(Currency::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in 0i64..=i64::MAX, currency in any_currency()) {
            let m = Money::from_minor(minor, currency);
            let parsed = Money::parse(&m.amount_string(), currency.code()).unwrap();
            prop_assert_eq!(parsed, m);
        }

        #[test]
        fn parse_never_panics(amount in ".{0,40}", currency in any_currency()) {
            let _ = Money::parse(&amount, currency.code());
        }

        #[test]
        fn parse_then_format_is_identity_on_accepted_input(amount in "[0-9]{1,19}\\.[0-9]{2}") {
            if let Ok(m) = Money::parse(&amount, "USD") {
                prop_assert_eq!(m.amount_string(), amount);
            }
        }
    }
}
