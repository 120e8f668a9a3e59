//! `mailtls policyd` throughput and latency: lookups per second and p50/p99 over persistent
//! socketmap connections, answers from a warm cache (a 10,000-entry policy table in memory).
//! With `MAILTLS_BENCH_COMPARE=HOST:PORT:NAME` the same load runs against another socketmap
//! server in the same run (for example postfix-mta-sts-resolver's `mta-sts-daemon`, warmed
//! first with one query per key), so the two are read side by side. The goal: at
//! least 10x its throughput with a lower p99.
//!
//! Run: `cargo build --release --features cli && cargo bench --bench policyd`
//!
//! Environment: `MAILTLS_BIN` (default `target/release/mailtls`), `MAILTLS_BENCH_CLIENTS`
//! (concurrent connections, default 8), `MAILTLS_BENCH_SECS` (per server, default 3),
//! `MAILTLS_BENCH_KEYS` (comma-separated keys for the compared server; default the table's).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENTRIES: usize = 10_000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn netstring(payload: &str) -> Vec<u8> {
    format!("{}:{payload},", payload.len()).into_bytes()
}

fn read_netstring(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut len = Vec::new();
    stream.read_until(b':', &mut len).ok()?;
    len.pop();
    let len: usize = std::str::from_utf8(&len).ok()?.parse().ok()?;
    let mut payload = vec![0_u8; len + 1];
    stream.read_exact(&mut payload).ok()?;
    payload.pop();
    String::from_utf8(payload).ok()
}

/// Every key once, on one connection: the server's cache is warm afterwards.
fn warm(addr: SocketAddr, name: &str, keys: &[String]) {
    let mut stream = BufReader::new(TcpStream::connect(addr).unwrap());
    for key in keys {
        stream
            .get_mut()
            .write_all(&netstring(&format!("{name} {key}")))
            .unwrap();
        let _ = read_netstring(&mut stream);
    }
}

struct Run {
    lookups: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    failures: usize,
}

/// `clients` persistent connections, each cycling through `keys` for `secs` seconds.
fn drive(addr: SocketAddr, name: &str, keys: &[String], clients: usize, secs: u64) -> Run {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let keys = keys.to_vec();
            let name = name.to_owned();
            std::thread::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut latencies = Vec::new();
                let mut failures = 0;
                let mut i = c * 7919;
                while Instant::now() < deadline {
                    let key = &keys[i % keys.len()];
                    i += 1;
                    let t = Instant::now();
                    writer
                        .write_all(&netstring(&format!("{name} {key}")))
                        .unwrap();
                    match read_netstring(&mut reader) {
                        Some(reply) if reply.starts_with("OK ") || reply == "NOTFOUND " => {
                            latencies.push(t.elapsed());
                        }
                        Some(_) => failures += 1,
                        None => {
                            failures += 1;
                            break;
                        }
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for handle in handles {
        let (l, f) = handle.join().unwrap();
        latencies.extend(l);
        failures += f;
    }
    latencies.sort_unstable();
    Run {
        lookups: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
        failures,
    }
}

fn report(label: &str, run: &Run) {
    let pct = |p: f64| {
        let n = run.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let index = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        run.latencies[index]
    };
    println!(
        "{label:<28} {:>10.0} lookups/s  p50 {:>8.1} us  p99 {:>8.1} us  ({} lookups, {} failed)",
        run.lookups as f64 / run.elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        run.lookups,
        run.failures
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let bin = std::env::var_os("MAILTLS_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/mailtls"),
        PathBuf::from,
    );
    if !bin.exists() {
        println!(
            "policyd bench skipped: {} not found (cargo build --release --features cli)",
            bin.display()
        );
        return;
    }
    let clients = env_or("MAILTLS_BENCH_CLIENTS", 8_usize);
    let secs = env_or("MAILTLS_BENCH_SECS", 3_u64);
    let dir = std::env::temp_dir().join(format!("mailtls-policyd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut table = String::new();
    let mut keys = Vec::with_capacity(ENTRIES);
    for i in 0..ENTRIES {
        writeln!(table, "domain{i}.example secure match=mx.domain{i}.example").unwrap();
        keys.push(format!("domain{i}.example"));
    }
    std::fs::write(dir.join("table"), table).unwrap();

    let mut child = Command::new(&bin)
        .args(["policyd", "--listen", "127.0.0.1:0", "--policy-map"])
        .arg(dir.join("table"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _server = Server(child);
    let json: serde_json::Value = serde_json::from_str(&first).unwrap();
    let addr: SocketAddr = json["listening"].as_str().unwrap().parse().unwrap();

    println!("{clients} persistent connections, {secs} s per server, {ENTRIES} keys");
    warm(addr, "policy", &keys);
    report(
        "mailtls policyd",
        &drive(addr, "policy", &keys, clients, secs),
    );

    if let Ok(compare) = std::env::var("MAILTLS_BENCH_COMPARE") {
        let (host_port, name) = compare.rsplit_once(':').expect("HOST:PORT:NAME");
        let other: SocketAddr = host_port.parse().expect("HOST:PORT");
        let other_keys: Vec<String> = std::env::var("MAILTLS_BENCH_KEYS").map_or_else(
            |_| keys.clone(),
            |k| k.split(',').map(str::to_owned).collect(),
        );
        warm(other, name, &other_keys);
        report(
            &format!("compared ({compare})"),
            &drive(other, name, &other_keys, clients, secs),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
