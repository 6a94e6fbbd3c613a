//! Carriers, who deliver accepted orders and are told of each by SMS.

use serde::{Deserialize, Serialize};

use crate::ids::{CarrierId, OrderId, Phone};
use crate::order::CarrierRef;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub id: CarrierId,
    pub name: String,
    pub phone: Phone,
    pub active: bool,
}

impl Carrier {
    pub fn reference(&self) -> CarrierRef {
        CarrierRef {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}

/// Picks the active carrier for an order, deterministically from the order id: a redelivered
/// event picks the same carrier, and orders spread evenly over the active carriers.
pub fn pick_carrier(order: OrderId, carriers: &[Carrier]) -> Option<&Carrier> {
    let mut active: Vec<&Carrier> = carriers.iter().filter(|c| c.active).collect();
    if active.is_empty() {
        return None;
    }
    active.sort_by(|a, b| a.id.cmp(&b.id));
    let index = order.as_u128() % active.len() as u128;
    Some(active[index as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CustomerId;

    fn carrier(id: &str, active: bool) -> Carrier {
        Carrier {
            id: CarrierId::parse(id).unwrap(),
            name: id.to_uppercase(),
            phone: Phone::parse("+15550000001").unwrap(),
            active,
        }
    }

    #[test]
    fn picks_only_active_carriers_deterministically() {
        let carriers = vec![carrier("b", true), carrier("a", false), carrier("c", true)];
        let customer = CustomerId::parse("alice").unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let id = OrderId::for_request(&customer, None);
            let picked = pick_carrier(id, &carriers).unwrap();
            assert!(picked.active);
            assert_eq!(pick_carrier(id, &carriers).unwrap().id, picked.id);
            let mut reordered = carriers.clone();
            reordered.reverse();
            assert_eq!(pick_carrier(id, &reordered).unwrap().id, picked.id);
            seen.insert(picked.id.clone());
        }
        assert_eq!(seen.len(), 2);
        assert!(
            pick_carrier(
                OrderId::for_request(&customer, None),
                &[carrier("a", false)]
            )
            .is_none()
        );
    }
}
