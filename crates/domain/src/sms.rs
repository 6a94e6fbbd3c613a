//! The carrier SMS: at most 160 GSM-7 characters (one SMS segment), with the order id, the
//! item count, the total and the delivery address, truncated to fit.

use crate::order::Order;

/// One SMS segment in the GSM-7 alphabet.
pub const MAX_SMS_SEPTETS: usize = 160;

/// GSM 03.38 basic character set (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (escape + character: two septets each).
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// Septets a character takes in GSM-7, or `None` when it has no GSM-7 form.
fn septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Keeps text in GSM-7 (so the SMS stays one 160-character segment rather than a 70-character
/// UCS-2 one): line breaks and tabs become spaces, anything else outside GSM-7 becomes `?`.
fn to_gsm7(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().map(|c| match c {
        '\n' | '\r' | '\t' => ' ',
        c if septets(c).is_some() => c,
        _ => '?',
    })
}

pub fn septet_len(text: &str) -> usize {
    text.chars().map(|c| septets(c).unwrap_or(2)).sum()
}

/// The SMS telling a carrier about an order.
pub fn carrier_sms(order: &Order) -> String {
    let total = order
        .total
        .map(|t| format!("{} {}", t.amount_string(), t.currency()))
        .unwrap_or_else(|| "-".to_owned());
    let items = order.item_count();
    let noun = if items == 1 { "item" } else { "items" };
    let head: String = to_gsm7(&format!(
        "Order {}: {items} {noun}, {total}. Deliver to: ",
        order.id
    ))
    .collect();
    let mut budget = MAX_SMS_SEPTETS.saturating_sub(septet_len(&head));
    let address: Vec<char> = to_gsm7(&order.delivery.address).collect();
    let full = address
        .iter()
        .map(|c| septets(*c).unwrap_or(2))
        .sum::<usize>();
    let mut text = head;
    if full <= budget {
        text.extend(address);
        return text;
    }
    budget = budget.saturating_sub(3);
    for c in address {
        let cost = septets(c).unwrap_or(2);
        if cost > budget {
            break;
        }
        budget -= cost;
        text.push(c);
    }
    text.push_str("...");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, OrderId, Phone, ProductId};
    use crate::money::{Currency, Money};
    use crate::order::{Delivery, OrderLine, OrderStatus};
    use proptest::prelude::*;

    #[test]
    fn extended_and_foreign_characters_take_two_septets() {
        assert_eq!(septet_len("abc"), 3);
        assert_eq!(septet_len("a€["), 5);
        assert_eq!(
            septet_len("a🙂"),
            3,
            "counted as its `?` would not be: the worst case"
        );
    }

    #[test]
    fn line_breaks_and_tabs_become_spaces() {
        let sms = carrier_sms(&order("1 Main St\nFlat 2\r\n\tSpringfield"));
        assert!(sms.ends_with("1 Main St Flat 2   Springfield"), "{sms}");
    }

    #[test]
    fn a_truncated_address_fills_the_segment_exactly() {
        let sms = carrier_sms(&order(&"A".repeat(300)));
        assert!(sms.ends_with("..."), "{sms}");
        assert_eq!(septet_len(&sms), MAX_SMS_SEPTETS, "{sms}");
    }

    fn order(address: &str) -> Order {
        let customer = CustomerId::parse("alice").unwrap();
        Order {
            id: OrderId::for_request(&customer, None),
            customer_id: customer,
            lines: vec![OrderLine {
                product_id: ProductId::parse("p").unwrap(),
                name: Some("P".into()),
                quantity: 3,
                unit_price: Some(Money::from_minor(1000, Currency::Usd)),
                line_total: Some(Money::from_minor(3000, Currency::Usd)),
            }],
            total: Some(Money::from_minor(3000, Currency::Usd)),
            delivery: Delivery {
                address: address.into(),
                phone: Phone::parse("+15551234567").unwrap(),
            },
            status: OrderStatus::Accepted,
            reason: None,
            carrier: None,
            created_at: chrono::Utc::now(),
            recorded_at: None,
            announced_at: None,
            texted_at: None,
            dispatched_at: None,
        }
    }

    #[test]
    fn short_address_fits_whole() {
        let o = order("1 Main St, Springfield");
        let text = carrier_sms(&o);
        assert_eq!(
            text,
            format!(
                "Order {}: 3 items, 30.00 USD. Deliver to: 1 Main St, Springfield",
                o.id
            )
        );
        assert!(septet_len(&text) <= 160);
    }

    #[test]
    fn long_address_is_truncated_to_one_segment() {
        let o = order(&"Rua das Flores 123, Apartamento 45, ".repeat(10));
        let text = carrier_sms(&o);
        assert!(text.ends_with("..."));
        assert!(septet_len(&text) <= 160);
        assert!(septet_len(&text) >= 157);
        assert!(text.contains(&o.id.to_string()));
    }

    proptest! {
        #[test]
        fn any_address_gives_at_most_160_gsm7_septets(address in "\\PC{1,500}") {
            let text = carrier_sms(&order(&address));
            prop_assert!(septet_len(&text) <= MAX_SMS_SEPTETS);
            prop_assert!(text.chars().all(|c| septets(c).is_some()), "only GSM-7: {text:?}");
        }
    }
}
