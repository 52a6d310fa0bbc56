//! `[detect.thresholds]`: the numbers the detectors compare against.

use serde::{Deserialize, Serialize};

/// `[detect.thresholds]`: every key optional; the accessor of the same name
/// gives the value in force (the default when unset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// `net.scan`: distinct destinations (address and port) within
    /// `scan_window`. Default 12, at least 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_destinations: Option<u32>,
    /// `net.scan`: the sliding window. Default `"10s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_window: Option<crate::model::Duration>,
    /// `miner.cpu`: the percentage of its possible share a process must
    /// hold (its possible share: its threads times 100, at most the
    /// sandbox's CPU budget). Default 90, above 0 and at most 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mining_cpu_percent: Option<f64>,
    /// `miner.cpu`: for how long (consecutive samples), without progress.
    /// Default `"3s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mining_seconds: Option<crate::model::Duration>,
    /// `exfil.upload`: bytes sent to one destination during the run.
    /// Default `"64M"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_bytes: Option<crate::model::ByteSize>,
    /// `exfil.dns`: the Shannon entropy (bits per character) from which a
    /// long DNS label looks encoded. Default 3.6, above 0 and at most 6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_label_entropy: Option<f64>,
    /// `exfil.dns`: the length from which a DNS label is looked at. Default
    /// 20, from 8 to 63.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_label_length: Option<u32>,
    /// `exfil.dns-burst`: distinct names under one parent domain within
    /// `dns_window`. Default 20, at least 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_subdomains: Option<u32>,
    /// `exfil.dns-burst`: the sliding window. Default `"60s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_window: Option<crate::model::Duration>,
    /// `resource.cpu`: for how long the sandbox may run at its CPU limit
    /// (samples at 95% of it or more) before it is a finding. Default
    /// `"60s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit_seconds: Option<crate::model::Duration>,
}

fn secs(s: u64) -> std::time::Duration {
    std::time::Duration::from_secs(s)
}

impl Thresholds {
    pub const DEFAULT_SCAN_DESTINATIONS: u32 = 12;
    pub const DEFAULT_SCAN_WINDOW_SECS: u64 = 10;
    pub const DEFAULT_MINING_CPU_PERCENT: f64 = 90.0;
    pub const DEFAULT_MINING_SECS: u64 = 3;
    pub const DEFAULT_UPLOAD_BYTES: u64 = 64 << 20;
    pub const DEFAULT_DNS_LABEL_ENTROPY: f64 = 3.6;
    pub const DEFAULT_DNS_LABEL_LENGTH: u32 = 20;
    pub const DEFAULT_DNS_SUBDOMAINS: u32 = 20;
    pub const DEFAULT_DNS_WINDOW_SECS: u64 = 60;
    pub const DEFAULT_CPU_LIMIT_SECS: u64 = 60;

    pub(super) fn is_empty(&self) -> bool {
        *self == Thresholds::default()
    }

    pub fn scan_destinations(&self) -> u32 {
        self.scan_destinations
            .unwrap_or(Self::DEFAULT_SCAN_DESTINATIONS)
    }

    pub fn scan_window(&self) -> std::time::Duration {
        self.scan_window
            .map_or(secs(Self::DEFAULT_SCAN_WINDOW_SECS), |d| d.0)
    }

    pub fn mining_cpu_percent(&self) -> f64 {
        self.mining_cpu_percent
            .unwrap_or(Self::DEFAULT_MINING_CPU_PERCENT)
    }

    pub fn mining_seconds(&self) -> std::time::Duration {
        self.mining_seconds
            .map_or(secs(Self::DEFAULT_MINING_SECS), |d| d.0)
    }

    pub fn upload_bytes(&self) -> u64 {
        self.upload_bytes
            .map_or(Self::DEFAULT_UPLOAD_BYTES, |b| b.0)
    }

    pub fn dns_label_entropy(&self) -> f64 {
        self.dns_label_entropy
            .unwrap_or(Self::DEFAULT_DNS_LABEL_ENTROPY)
    }

    pub fn dns_label_length(&self) -> u32 {
        self.dns_label_length
            .unwrap_or(Self::DEFAULT_DNS_LABEL_LENGTH)
    }

    pub fn dns_subdomains(&self) -> u32 {
        self.dns_subdomains.unwrap_or(Self::DEFAULT_DNS_SUBDOMAINS)
    }

    pub fn dns_window(&self) -> std::time::Duration {
        self.dns_window
            .map_or(secs(Self::DEFAULT_DNS_WINDOW_SECS), |d| d.0)
    }

    pub fn cpu_limit_seconds(&self) -> std::time::Duration {
        self.cpu_limit_seconds
            .map_or(secs(Self::DEFAULT_CPU_LIMIT_SECS), |d| d.0)
    }

    /// `upper`'s values where set, else `self`'s.
    pub(super) fn overlaid(self, upper: Thresholds) -> Thresholds {
        Thresholds {
            scan_destinations: upper.scan_destinations.or(self.scan_destinations),
            scan_window: upper.scan_window.or(self.scan_window),
            mining_cpu_percent: upper.mining_cpu_percent.or(self.mining_cpu_percent),
            mining_seconds: upper.mining_seconds.or(self.mining_seconds),
            upload_bytes: upper.upload_bytes.or(self.upload_bytes),
            dns_label_entropy: upper.dns_label_entropy.or(self.dns_label_entropy),
            dns_label_length: upper.dns_label_length.or(self.dns_label_length),
            dns_subdomains: upper.dns_subdomains.or(self.dns_subdomains),
            dns_window: upper.dns_window.or(self.dns_window),
            cpu_limit_seconds: upper.cpu_limit_seconds.or(self.cpu_limit_seconds),
        }
    }
}
