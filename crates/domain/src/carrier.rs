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
    carriers_in_turn(order, carriers).into_iter().next()
}

/// Every active carrier, in the order an order tries them: the one [`pick_carrier`] picks,
/// then the others after it in turn, so that a carrier whose number is refused for good (opted
/// out) passes its orders on to the next, the same next for every delivery of an order.
pub fn carriers_in_turn(order: OrderId, carriers: &[Carrier]) -> Vec<&Carrier> {
    let mut active: Vec<&Carrier> = carriers.iter().filter(|c| c.active).collect();
    if active.is_empty() {
        return active;
    }
    active.sort_by(|a, b| a.id.cmp(&b.id));
    let index = (order.as_u128() % active.len() as u128) as usize;
    active.rotate_left(index);
    active
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
    fn every_active_carrier_in_turn_from_the_picked_one() {
        let carriers = vec![
            carrier("a", true),
            carrier("b", true),
            carrier("c", false),
            carrier("d", true),
        ];
        for _ in 0..50 {
            let id = OrderId::for_request(&CustomerId::parse("alice").unwrap(), None);
            let turn: Vec<&str> = carriers_in_turn(id, &carriers)
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            assert_eq!(turn.len(), 3, "only the active ones");
            assert_eq!(turn[0], pick_carrier(id, &carriers).unwrap().id.as_str());
            let start = ["a", "b", "d"].iter().position(|c| *c == turn[0]).unwrap();
            let expected: Vec<&str> = (0..3).map(|i| ["a", "b", "d"][(start + i) % 3]).collect();
            assert_eq!(turn, expected);
        }
        assert!(
            carriers_in_turn(
                OrderId::for_request(&CustomerId::parse("a").unwrap(), None),
                &[]
            )
            .is_empty()
        );
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
