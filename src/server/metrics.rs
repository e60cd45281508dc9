//! `/metrics`: the server's counters and gauges in the Prometheus text format (version
//! 0.0.4), on the web listener. The engine's task copies its figures here once a second (and
//! at shutdown); a scrape reads them without touching the engine.
//!
//! A scrape needs `Authorization: Bearer <metrics_token>` when the configuration sets a
//! token; without one, only loopback may scrape.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::sip::Stats;

/// The figures: see the [module documentation](self).
#[derive(Debug, Default)]
pub struct Metrics {
    registered: AtomicU64,
    forwarded: AtomicU64,
    rejected: AtomicU64,
    auth_failures: AtomicU64,
    unsigned_dropped: AtomicU64,
    rate_limited: AtomicU64,
    bindings: AtomicU64,
    transactions: AtomicU64,
    conferences: AtomicU64,
    associations: AtomicU64,
    connections: AtomicU64,
    media_legs: AtomicU64,
    input_queue: AtomicU64,
    /// Writes handed to the store thread (counted by the engine's task).
    pub(crate) store_sent: AtomicU64,
    /// Writes the store committed (counted by its thread).
    pub(crate) store_committed: AtomicU64,
    /// Batches committed.
    pub(crate) store_batches: AtomicU64,
    /// Batches that failed and were not acknowledged.
    pub(crate) store_failures: AtomicU64,
}

/// What the engine's task reports of itself ([`Metrics::observe`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed {
    /// The engine's counters.
    pub stats: Stats,
    /// Live bindings.
    pub bindings: u64,
    /// SIP transactions in the transaction layer.
    pub transactions: u64,
    /// Conferences the focus runs.
    pub conferences: u64,
    /// [MS-SIPAE] security associations.
    pub associations: u64,
    /// TCP and TLS connections.
    pub connections: u64,
    /// Inputs waiting for the engine (parsed messages from the streams, MCU calls).
    pub input_queue: u64,
}

impl Metrics {
    /// Takes the engine's latest figures.
    pub fn observe(&self, o: &Observed) {
        let s = &o.stats;
        self.registered.store(s.registered, Relaxed);
        self.forwarded.store(s.forwarded, Relaxed);
        self.rejected.store(s.rejected, Relaxed);
        self.auth_failures.store(s.auth_failures, Relaxed);
        self.unsigned_dropped.store(s.unsigned_dropped, Relaxed);
        self.rate_limited.store(s.rate_limited, Relaxed);
        self.bindings.store(o.bindings, Relaxed);
        self.transactions.store(o.transactions, Relaxed);
        self.conferences.store(o.conferences, Relaxed);
        self.associations.store(o.associations, Relaxed);
        self.connections.store(o.connections, Relaxed);
        self.input_queue.store(o.input_queue, Relaxed);
    }

    /// The A/V MCU's legs (from its reports).
    pub fn set_media_legs(&self, n: u64) {
        self.media_legs.store(n, Relaxed);
    }

    /// The exposition: `# HELP`, `# TYPE` and one sample per metric.
    #[must_use]
    pub fn render(&self) -> String {
        let sent = self.store_sent.load(Relaxed);
        let committed = self.store_committed.load(Relaxed);
        let rows: [(&str, &str, &str, u64); 17] = [
            (
                "ocs_register_ok_total",
                "counter",
                "REGISTER requests answered 200",
                self.registered.load(Relaxed),
            ),
            (
                "ocs_forwarded_total",
                "counter",
                "Requests forwarded by the proxy, each branch counted",
                self.forwarded.load(Relaxed),
            ),
            (
                "ocs_rejected_total",
                "counter",
                "Requests the server answered with an error",
                self.rejected.load(Relaxed),
            ),
            (
                "ocs_auth_failures_total",
                "counter",
                "Failed authentications (wrong password, bad signature)",
                self.auth_failures.load(Relaxed),
            ),
            (
                "ocs_unsigned_dropped_total",
                "counter",
                "Messages dropped for lacking the signature their security association requires",
                self.unsigned_dropped.load(Relaxed),
            ),
            (
                "ocs_rate_limited_total",
                "counter",
                "Requests without credentials refused by the per-source rate",
                self.rate_limited.load(Relaxed),
            ),
            (
                "ocs_bindings",
                "gauge",
                "Live registrations (bindings)",
                self.bindings.load(Relaxed),
            ),
            (
                "ocs_transactions",
                "gauge",
                "SIP transactions in the transaction layer",
                self.transactions.load(Relaxed),
            ),
            (
                "ocs_conferences",
                "gauge",
                "Conferences the focus runs",
                self.conferences.load(Relaxed),
            ),
            (
                "ocs_security_associations",
                "gauge",
                "[MS-SIPAE] security associations",
                self.associations.load(Relaxed),
            ),
            (
                "ocs_connections",
                "gauge",
                "SIP TCP and TLS connections",
                self.connections.load(Relaxed),
            ),
            (
                "ocs_media_legs",
                "gauge",
                "Legs of the A/V MCU",
                self.media_legs.load(Relaxed),
            ),
            (
                "ocs_input_queue",
                "gauge",
                "Inputs waiting for the SIP engine",
                self.input_queue.load(Relaxed),
            ),
            (
                "ocs_store_queue",
                "gauge",
                "Store writes waiting for their commit",
                sent.saturating_sub(committed),
            ),
            (
                "ocs_store_writes_total",
                "counter",
                "Store writes finished (committed, or failed: see ocs_store_failures_total)",
                committed,
            ),
            (
                "ocs_store_batches_total",
                "counter",
                "Store transactions committed",
                self.store_batches.load(Relaxed),
            ),
            (
                "ocs_store_failures_total",
                "counter",
                "Store batches that failed and were not acknowledged",
                self.store_failures.load(Relaxed),
            ),
        ];
        let mut out = String::with_capacity(rows.len() * 120);
        for (name, kind, help, value) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_a_help_a_type_and_a_sample_per_metric() {
        let m = Metrics::default();
        m.observe(&Observed {
            stats: Stats {
                registered: 12,
                auth_failures: 3,
                ..Stats::default()
            },
            bindings: 7,
            ..Observed::default()
        });
        m.store_sent.store(10, Relaxed);
        m.store_committed.store(8, Relaxed);
        let text = m.render();
        assert!(text.contains("# TYPE ocs_register_ok_total counter\nocs_register_ok_total 12\n"));
        assert!(text.contains("\nocs_auth_failures_total 3\n"));
        assert!(text.contains("# TYPE ocs_bindings gauge\nocs_bindings 7\n"));
        assert!(text.contains("\nocs_store_queue 2\n"));
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!((samples, helps, types), (17, 17, 17));
        // Every sample line is `name value` with a metric name Prometheus accepts.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = l.split_once(' ').unwrap();
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            value.parse::<u64>().unwrap();
        }
    }
}
