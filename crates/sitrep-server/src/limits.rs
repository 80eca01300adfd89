//! Per-token rate limits (`serve.rate_limit`): a token bucket per token and class (the API and
//! MCP, or a hook), refilled continuously. A request over the limit gets 429 with
//! `Retry-After`; nothing it carried is stored. Time is an argument, so the rule is tested
//! without a clock.

use sitrep_engine::settings::RateLimitSettings;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept at once; past it the longest idle is forgotten (it refills to full anyway).
const MAX_BUCKETS: usize = 10_000;

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Api,
    Hook,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every token's buckets.
pub struct Limits {
    settings: RateLimitSettings,
    buckets: Mutex<HashMap<(String, Class), Bucket>>,
}

/// A refusal: how long until one more request is allowed, and the limit it broke.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limited {
    pub retry_after: Duration,
    pub per_second: u32,
}

impl Limits {
    pub fn new(settings: RateLimitSettings) -> Limits {
        Limits {
            settings,
            buckets: Mutex::default(),
        }
    }

    fn rate(&self, class: Class) -> (u32, u32) {
        match class {
            Class::Api => (self.settings.per_second, self.settings.burst),
            Class::Hook => (self.settings.hooks_per_second, self.settings.hooks_burst),
        }
    }

    /// Takes one request of `token` in `class` at `now`.
    pub fn take(&self, token: &str, class: Class, now: Instant) -> Result<(), Limited> {
        let (per_second, burst) = self.rate(class);
        if per_second == 0 {
            return Ok(());
        }
        let capacity = f64::from(burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS
            && !buckets.contains_key(&(token.to_string(), class))
            && let Some(idle) = buckets
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(k, _)| k.clone())
        {
            buckets.remove(&idle);
        }
        let b = buckets.entry((token.to_string(), class)).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * f64::from(per_second)).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - b.tokens) / f64::from(per_second);
        Err(Limited {
            retry_after: Duration::from_secs_f64(wait),
            per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32) -> Limits {
        Limits::new(RateLimitSettings {
            per_second,
            burst,
            hooks_per_second: 0,
            hooks_burst: 0,
        })
    }

    #[test]
    fn a_burst_passes_then_the_rate_refills_it() {
        let l = limits(10, 5);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(l.take("a", Class::Api, t0).is_ok());
        }
        let r = l.take("a", Class::Api, t0).unwrap_err();
        assert_eq!(r.per_second, 10);
        assert!(r.retry_after > Duration::ZERO && r.retry_after <= Duration::from_millis(100));
        // Another token has its own bucket; hooks are unlimited here.
        assert!(l.take("b", Class::Api, t0).is_ok());
        assert!(l.take("a", Class::Hook, t0).is_ok());
        // 100 ms later: one more.
        let t1 = t0 + Duration::from_millis(100);
        assert!(l.take("a", Class::Api, t1).is_ok());
        assert!(l.take("a", Class::Api, t1).is_err());
        // Idle for long: no more than the burst.
        let t2 = t1 + Duration::from_secs(60);
        let passed = (0..20)
            .filter(|_| l.take("a", Class::Api, t2).is_ok())
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn zero_is_no_limit() {
        let l = limits(0, 0);
        let t = Instant::now();
        assert!((0..10_000).all(|_| l.take("a", Class::Api, t).is_ok()));
    }
}
