//! The tools of `scripts/bench` (docs/performance.md): a Lambda Runtime API emulator that runs a function
//! binary as Lambda does and times it, the events and settings each function is run with, an
//! open-loop HTTP load generator, and the order → SMS latency at fixed rates.

pub mod cpu_share;
pub mod events;
pub mod functions;
pub mod import;
pub mod latency;
pub mod load;
pub mod runtime_api;
pub mod setup;
pub mod store;
pub mod tls;

use std::time::Duration;

/// The `p`-th quantile of sorted durations, by nearest rank (zero when there are none).
pub fn nearest_rank(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(nearest_rank(&ms, 0.50), Duration::from_millis(50));
        assert_eq!(nearest_rank(&ms, 0.99), Duration::from_millis(99));
        assert_eq!(nearest_rank(&ms[..1], 0.99), Duration::from_millis(1));
        assert_eq!(nearest_rank(&[], 0.5), Duration::ZERO);
    }
}
