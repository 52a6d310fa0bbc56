//! Writes N events to a fresh trail and prints the rate, then verifies it.
//!
//! ```sh
//! cargo run --release -p corral-audit --example throughput -- [N] [--threads T] [--queue Q] [--try] [--keep DIR]
//! ```
//!
//! Prints one line of `key=value` pairs, e.g.
//! `events=1000000 threads=1 seconds=1.234 events_per_sec=810372 bytes_per_event=241 dropped=0 verify_seconds=0.9 verify_lines_per_sec=1111112`.
//! `seconds` runs from the first record to the end of `finish` (fsync included).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use corral_audit::{new_run_id, verify, Writer, WriterConfig, DEFAULT_QUEUE};
use serde_json::{json, Map, Value};

struct Args {
    events: u64,
    threads: u64,
    queue: usize,
    try_record: bool,
    keep: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        events: 1_000_000,
        threads: 1,
        queue: DEFAULT_QUEUE,
        try_record: false,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--threads" => args.threads = num(&value("--threads")?)?,
            "--queue" => args.queue = num(&value("--queue")?)?,
            "--try" => args.try_record = true,
            "--keep" => args.keep = Some(value("--keep")?.into()),
            "-h" | "--help" => return Err(String::new()),
            n => args.events = num(n)?,
        }
    }
    Ok(args)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))
}

fn event(i: u64) -> Map<String, Value> {
    match json!({"host": "files.pythonhosted.org", "port": 443, "decision": "allow", "rule": "net.allow[3]", "bytes": i})
    {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: throughput [N] [--threads T] [--queue Q] [--try] [--keep DIR]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("throughput: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let run = new_run_id()?;
    let dir = match &args.keep {
        Some(d) => d.clone(),
        None => {
            std::env::temp_dir().join(format!("corral-audit-throughput-{}", std::process::id()))
        }
    };
    let path = dir.join(format!("{run}.jsonl"));
    let cfg = WriterConfig {
        labels: [("bench".to_owned(), "throughput".to_owned())].into(),
        queue: args.queue,
        ..WriterConfig::new(&path, &run)
    };
    let writer = Writer::create(cfg)?;
    let threads = args.threads.max(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let h = writer.handle();
            let n = args.events / threads + u64::from(t < args.events % threads);
            let try_record = args.try_record;
            s.spawn(move || {
                for i in 0..n {
                    if try_record {
                        h.try_record("net.connect", event(i));
                    } else {
                        h.record("net.connect", event(i));
                    }
                }
            });
        }
    });
    let summary = writer.finish(Map::new())?;
    let seconds = start.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path)?.len();
    let vstart = Instant::now();
    let verified = verify(&path)?;
    let vseconds = vstart.elapsed().as_secs_f64();
    if let Some(p) = &verified.problem {
        return Err(format!("{}: {p}", path.display()).into());
    }
    if args.keep.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    let written = summary.lines.saturating_sub(1).max(1);
    println!(
        "events={} threads={threads} seconds={seconds:.3} events_per_sec={:.0} bytes_per_event={} dropped={} verify_seconds={vseconds:.3} verify_lines_per_sec={:.0}",
        args.events,
        args.events as f64 / seconds,
        bytes / written,
        summary.dropped,
        summary.lines as f64 / vseconds,
    );
    Ok(())
}
