//! Retries of transient failures inside an invocation: exponential backoff with
//! full jitter, a bounded number of attempts, and never past the invocation's deadline. What
//! still fails is handed back to the trigger (the queue redelivers it, Lambda's async invoke
//! retries it), so a retry budget here is about not wasting a whole redelivery on a
//! throttle or a transaction conflict that clears in milliseconds.
//!
//! The deadline is the invocation's: the Lambda runner sets it from the invocation's own
//! deadline, `delivery-local` from the queue's visibility timeout, with [`within`].

use std::future::Future;
use std::time::Duration;

use rand::RngExt;
use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Left for the work after the last sleep: a retry that could not finish in time is not begun.
const MARGIN: Duration = Duration::from_millis(200);

/// Runs `work` with `deadline` as the invocation's deadline.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The time left before the invocation's deadline, if one is set.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|d| d.saturating_duration_since(Instant::now()))
        .ok()
}

/// How a transient failure is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The ceiling of the first wait; each retry doubles it.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
}

/// The pipeline's retries: up to 8 attempts, waits of up to 25 ms, 50 ms, … 1.6 s.
pub const PIPELINE: Policy = Policy {
    attempts: 8,
    base: Duration::from_millis(25),
    cap: Duration::from_millis(1600),
};

impl Policy {
    /// The ceiling of the wait before retry number `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Full jitter: a wait drawn uniformly from zero to the ceiling.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=ceiling))
    }

    /// Runs `attempt` until it succeeds, fails in a way `is_transient` says will not pass,
    /// runs out of attempts, or the next wait would pass the deadline; the last answer is
    /// returned as it is.
    pub async fn run<T, E, Fut>(
        &self,
        what: &str,
        is_transient: impl Fn(&E) -> bool,
        mut attempt: impl FnMut() -> Fut,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let mut retry = 0;
        loop {
            let error = match attempt().await {
                Err(e) if is_transient(&e) && retry + 1 < self.attempts => e,
                outcome => return outcome,
            };
            let delay = self.delay(retry);
            if remaining().is_some_and(|left| left < delay + MARGIN) {
                tracing::warn!(what, error = %error, retries = retry, "no time left to retry");
                return Err(error);
            }
            tracing::debug!(what, error = %error, retry, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const POLICY: Policy = Policy {
        attempts: 4,
        base: Duration::from_millis(100),
        cap: Duration::from_millis(250),
    };

    #[test]
    fn ceilings_double_up_to_the_cap_and_delays_stay_under_them() {
        let ceilings: Vec<u128> = (0..5).map(|r| POLICY.ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 250, 250, 250]);
        assert_eq!(POLICY.ceiling(200), POLICY.cap);
        for retry in 0..5 {
            for _ in 0..100 {
                assert!(POLICY.delay(retry) <= POLICY.ceiling(retry));
            }
        }
        // Full jitter spreads the waits over the whole range: among 200 draws, some fall in
        // each half (a fixed wait, zero or the ceiling, fails this with certainty; a correct
        // one fails it with probability 2^-199).
        let half = POLICY.ceiling(1) / 2;
        let draws: Vec<Duration> = (0..200).map(|_| POLICY.delay(1)).collect();
        assert!(draws.iter().any(|d| *d < half), "{draws:?}");
        assert!(draws.iter().any(|d| *d > half), "{draws:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_until_success() {
        let calls = Cell::new(0);
        let result: Result<u32, String> = POLICY
            .run(
                "test",
                |_| true,
                || {
                    calls.set(calls.get() + 1);
                    let n = calls.get();
                    async move {
                        if n < 3 {
                            Err(format!("busy {n}"))
                        } else {
                            Ok(n)
                        }
                    }
                },
            )
            .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_attempts_or_on_a_permanent_failure() {
        let calls = Cell::new(0);
        let always = || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>("busy".to_owned()) }
        };
        assert!(POLICY.run("test", |_| true, always).await.is_err());
        assert_eq!(calls.get(), 4);
        calls.set(0);
        let permanent = || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>("refused".to_owned()) }
        };
        assert!(POLICY.run("test", |_| false, permanent).await.is_err());
        assert_eq!(calls.get(), 1);
    }

    /// Fails every attempt, under a deadline `budget` from now; returns the calls made and the
    /// time the retries took (the clock is paused, so only the sleeps count).
    async fn always_busy_within(budget: Duration) -> (u32, Duration) {
        let calls = Cell::new(0);
        let started = Instant::now();
        let result = within(started + budget, async {
            assert!(remaining().is_some_and(|r| r <= budget));
            POLICY
                .run(
                    "test",
                    |_| true,
                    || {
                        calls.set(calls.get() + 1);
                        async { Err::<(), _>("busy".to_owned()) }
                    },
                )
                .await
        })
        .await;
        assert!(result.is_err());
        (calls.get(), started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn never_sleeps_past_the_deadline() {
        // Less time than the margin: no retry is begun at all.
        assert_eq!(
            always_busy_within(MARGIN - Duration::from_millis(1))
                .await
                .0,
            1
        );
        // The margin leaves 50 ms for waits. Jitter may draw waits short enough for every
        // attempt, so the number of calls is not fixed; the time slept is: every wait ends at
        // least the margin before the deadline.
        for _ in 0..200 {
            let (calls, slept) = always_busy_within(MARGIN + Duration::from_millis(50)).await;
            assert!((1..=POLICY.attempts).contains(&calls));
            assert!(slept <= Duration::from_millis(50), "{slept:?}");
        }
        // Time enough for every wait: all the attempts are made.
        assert_eq!(
            always_busy_within(Duration::from_secs(60)).await.0,
            POLICY.attempts
        );
        assert_eq!(remaining(), None, "no deadline outside `within`");
    }

    /// Exactly the margin left, with no wait to take: the retry is begun (the rule is "less
    /// than the wait plus the margin", not "at most"); a millisecond less, and it is not.
    #[tokio::test(start_paused = true)]
    async fn the_margin_itself_is_enough_for_a_retry() {
        const NO_WAIT: Policy = Policy {
            attempts: 2,
            base: Duration::ZERO,
            cap: Duration::ZERO,
        };
        let busy_once = |left: Duration| async move {
            let calls = Cell::new(0);
            within(Instant::now() + left, async {
                NO_WAIT
                    .run(
                        "test",
                        |_| true,
                        || {
                            calls.set(calls.get() + 1);
                            let n = calls.get();
                            async move {
                                if n == 1 {
                                    Err("busy".to_owned())
                                } else {
                                    Ok(n)
                                }
                            }
                        },
                    )
                    .await
            })
            .await
        };
        assert_eq!(busy_once(MARGIN).await, Ok(2));
        assert_eq!(
            busy_once(MARGIN - Duration::from_millis(1)).await,
            Err("busy".to_owned())
        );
    }
}
