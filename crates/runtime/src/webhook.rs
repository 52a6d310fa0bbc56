//! The detectors' webhook: alerts posted as JSON from a thread of its own,
//! never waited for by the run.

use crate::lock;
use corral_policy::WebhookUrl;
use serde_json::Value;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Alerts posted as JSON (`POST`, `Content-Type: application/json`) to an
/// `http://HOST[:PORT]/PATH` URL from a thread of its own: retried three
/// times with backoff, never waited for by the run (a full queue drops
/// the alert and counts it).
pub(crate) struct Webhook {
    tx: Mutex<Option<SyncSender<Value>>>,
    pending: Arc<AtomicU64>,
    dropped: AtomicU64,
    url: String,
}

impl Webhook {
    pub(crate) fn start(url: &str) -> std::io::Result<Webhook> {
        let target = WebhookUrl::parse(url)
            .map_err(|e| std::io::Error::other(format!("detect.webhook: {e}")))?;
        let (tx, rx) = sync_channel::<Value>(256);
        let pending = Arc::new(AtomicU64::new(0));
        let p = pending.clone();
        std::thread::Builder::new()
            .name("corral-webhook".into())
            .stack_size(256 * 1024)
            .spawn(move || post_all(rx, target, p))?;
        Ok(Webhook {
            tx: Mutex::new(Some(tx)),
            pending,
            dropped: AtomicU64::new(0),
            url: url.to_owned(),
        })
    }

    pub(crate) fn post(&self, alert: Value) {
        let tx = lock(&self.tx).clone();
        self.pending.fetch_add(1, Ordering::SeqCst);
        if tx.is_none_or(|tx| tx.try_send(alert).is_err()) {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn flush(&self, within: Duration) {
        lock(&self.tx).take();
        let deadline = Instant::now() + within;
        while self.pending.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left = self.pending.load(Ordering::SeqCst) + self.dropped.load(Ordering::Relaxed);
        if left > 0 {
            say!(
                "corral: warning: {left} alert(s) could not be delivered to the webhook {}",
                self.url
            );
        }
    }
}

fn post_all(rx: Receiver<Value>, url: WebhookUrl, pending: Arc<AtomicU64>) {
    for alert in rx {
        let body = alert.to_string();
        for attempt in 0..3u32 {
            if post_one(&url, &body).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(250 << attempt));
        }
        pending.fetch_sub(1, Ordering::SeqCst);
    }
}

fn post_one(url: &WebhookUrl, body: &str) -> std::io::Result<()> {
    use std::io::Read;
    use std::net::ToSocketAddrs;
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: corral\r\n\r\n{body}",
        url.path,
        url.host,
        body.len()
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    // "HTTP/1.1 2xx"
    if head.get(9) == Some(&b'2') {
        Ok(())
    } else {
        Err(std::io::Error::other("webhook answered non-2xx"))
    }
}
