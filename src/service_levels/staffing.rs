//! Staffing by Erlang C: how many agents an hour needs so that a given
//! share of customers wait no longer than the SLA target.
//!
//! With λ conversations arriving per second and an average handling time
//! of h seconds, the offered traffic is A = λ·h erlangs. With N agents
//! (N > A), Erlang C gives the chance that a customer has to wait at all,
//! and the service level is the share answered within t seconds:
//! SL = 1 − C(N, A) · e^(−(N − A)·t/h). The agents needed are the fewest N
//! whose service level meets the target. C is computed through the Erlang B
//! recursion, which stays exact where factorials would overflow.

/// Chance that an arriving customer waits (Erlang C), for `agents` agents
/// and `traffic` erlangs. 1 when the agents cannot keep up.
pub fn erlang_c(agents: u32, traffic: f64) -> f64 {
    let n = f64::from(agents);
    if traffic <= 0.0 {
        return 0.0;
    }
    if n <= traffic {
        return 1.0;
    }
    // Erlang B by recursion: B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)).
    let b = (1..=agents).fold(1.0, |b, k| traffic * b / (f64::from(k) + traffic * b));
    n * b / (n - traffic * (1.0 - b))
}

/// Share of customers answered within `target_secs`.
pub fn service_level(
    agents: u32,
    arrivals_per_hour: f64,
    handling_secs: f64,
    target_secs: f64,
) -> f64 {
    let traffic = arrivals_per_hour / 3600.0 * handling_secs;
    if traffic <= 0.0 {
        return 1.0;
    }
    let n = f64::from(agents);
    if n <= traffic {
        return 0.0;
    }
    1.0 - erlang_c(agents, traffic) * (-(n - traffic) * target_secs / handling_secs).exp()
}

/// The fewest agents that answer `share` (0 to 1) of customers within
/// `target_secs`. None when the inputs make no sense (no handling time, a
/// share of 1 or more), so a report can say so instead of looping forever.
pub fn agents_needed(
    arrivals_per_hour: f64,
    handling_secs: f64,
    target_secs: f64,
    share: f64,
) -> Option<u32> {
    if arrivals_per_hour <= 0.0 {
        return Some(0);
    }
    if handling_secs <= 0.0 || !(0.0..1.0).contains(&share) || !arrivals_per_hour.is_finite() {
        return None;
    }
    let traffic = arrivals_per_hour / 3600.0 * handling_secs;
    let first = traffic.floor() as u32 + 1;
    (first..first.saturating_add(10_000))
        .find(|&n| service_level(n, arrivals_per_hour, handling_secs, target_secs) >= share)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook case: 200 calls an hour, 3 minutes each (A = 10
    /// erlangs), 80% to be answered within 20 seconds.
    ///
    /// By hand for N = 13: Σ_{k=0}^{12} 10^k/k! = 17 435.19 and
    /// 10^13/13! · 13/(13 − 10) = 1 605.90 · 4.333 = 6 958.92, so
    /// C = 6 958.92 / (17 435.19 + 6 958.92) = 0.2853 and
    /// SL = 1 − 0.2853 · e^(−(13 − 10)·20/180) = 0.7956: just short of 80%.
    /// With 14 agents C = 0.1741 and SL = 0.8884.
    #[test]
    fn the_textbook_example_needs_fourteen_agents() {
        let close = |a: f64, b: f64| (a - b).abs() < 5e-4;
        assert!(close(erlang_c(13, 10.0), 0.2853), "{}", erlang_c(13, 10.0));
        assert!(close(erlang_c(14, 10.0), 0.1741));
        assert!(close(service_level(13, 200.0, 180.0, 20.0), 0.7956));
        assert!(close(service_level(14, 200.0, 180.0, 20.0), 0.8884));
        assert_eq!(agents_needed(200.0, 180.0, 20.0, 0.8), Some(14));
    }

    #[test]
    fn edges_do_not_loop_or_divide_by_zero() {
        assert_eq!(agents_needed(0.0, 180.0, 20.0, 0.8), Some(0));
        assert_eq!(agents_needed(10.0, 0.0, 20.0, 0.8), None);
        assert_eq!(agents_needed(10.0, 180.0, 20.0, 1.0), None);
        assert_eq!(erlang_c(5, 10.0), 1.0, "too few agents: everyone waits");
        assert_eq!(service_level(5, 200.0, 180.0, 20.0), 0.0);
        // One conversation an hour of ten minutes: one agent is plenty.
        assert_eq!(agents_needed(1.0, 600.0, 60.0, 0.8), Some(1));
    }
}
