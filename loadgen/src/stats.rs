//! What a run measured: per-message latencies and the lost / duplicated / out-of-order
//! accounting of the frames the receivers got.

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` by the nearest-rank method; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The frames received in one step, by pair and sequence number.
#[derive(Default)]
pub struct Tracker {
    /// Per pair: which sequence numbers arrived.
    seen: Vec<Vec<bool>>,
    /// Per pair: the highest sequence number received so far.
    highest: Vec<Option<u64>>,
    /// Latency of each first arrival, in microseconds.
    pub latencies_us: Vec<u64>,
    pub duplicated: u64,
    pub out_of_order: u64,
}

impl Tracker {
    pub fn new(pairs: usize) -> Self {
        Self {
            seen: vec![Vec::new(); pairs],
            highest: vec![None; pairs],
            ..Self::default()
        }
    }

    /// Records message `seq` of `pair`, received `latency_us` after it was due to be sent.
    pub fn record(&mut self, pair: usize, seq: u64, latency_us: u64) {
        let (Some(seen), Some(highest)) = (self.seen.get_mut(pair), self.highest.get_mut(pair))
        else {
            return;
        };
        let i = seq as usize;
        if seen.len() <= i {
            seen.resize(i + 1, false);
        }
        if seen[i] {
            self.duplicated += 1;
            return;
        }
        seen[i] = true;
        if highest.is_some_and(|h| seq < h) {
            self.out_of_order += 1;
        }
        *highest = Some(highest.map_or(seq, |h| h.max(seq)));
        self.latencies_us.push(latency_us);
    }

    /// Distinct messages received.
    pub fn received(&self) -> u64 {
        self.latencies_us.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 95.0), 95);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[1, 2, 3], 50.0), 2);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn duplicates_and_reordering_are_counted_once_each() {
        let mut t = Tracker::new(2);
        t.record(0, 0, 10);
        t.record(0, 2, 30);
        t.record(0, 1, 20); // late: out of order
        t.record(0, 2, 99); // again: duplicated, latency not counted
        t.record(1, 0, 5);
        t.record(5, 0, 5); // a pair this step does not have: ignored
        assert_eq!(t.received(), 4);
        assert_eq!(t.duplicated, 1);
        assert_eq!(t.out_of_order, 1);
        assert_eq!(t.latencies_us, vec![10, 30, 20, 5]);
    }
}
