//! `mailtls policyd` throughput and latency against postfix-mta-sts-resolver's
//! `mta-sts-daemon`, side by side in one run, on the same keys: 10,000 MTA-STS `enforce`
//! domains, each answered from a warm cache over persistent socketmap connections. Prints
//! lookups/s, p50 and p99 for each server and the ratios (the issue's goal: at least 10x the
//! daemon's throughput with a lower p99).
//!
//! - `mailtls policyd (MTA-STS)`: `--discovery-answers` holds each domain's MX and policy in
//!   memory, so every lookup runs the real decision (precedence, MTA-STS, rendering) on the
//!   discovery pool, with no network: a warm cache.
//! - `mta-sts-daemon`: postfix-mta-sts-resolver 1.5.1 with uvloop, internal cache, the same
//!   policies put in its cache before it listens (`benches/mta_sts_daemon_warm.py`, which runs
//!   the daemon unchanged) and `cache_grace` a year, so it never looks at DNS.
//! - `mailtls policyd (table)`: the same keys as a 10,000-entry policy table (configuration
//!   only: no discovery pool).
//!
//! Run (once: the daemon in a venv under target/):
//!
//! ```sh
//! python3 -m venv target/mta-sts-venv
//! target/mta-sts-venv/bin/pip install 'postfix-mta-sts-resolver[uvloop]==1.5.1'
//! cargo build --release --features cli && cargo bench --bench policyd
//! ```
//!
//! Each server's CPU time per lookup (user + system from /proc, all its threads) is printed
//! too: on a shared machine it is steadier than lookups/s, which the bench's own client
//! threads and everyone else's load bend.
//!
//! Latest (Dec 2026, 2 shared cores at load ~15, 8 clients, 3 s each, three runs):
//!
//! | server | lookups/s | p99 | CPU per lookup |
//! | --- | --- | --- | --- |
//! | mailtls policyd (MTA-STS) | 10,147 / 12,638 / 14,013 | 6.6 / 2.0 / 1.3 ms | 66-68 us |
//! | mta-sts-daemon 1.5.1 (uvloop) | 9,474 / 9,113 / 2,798 | 4.4 / 4.4 / 33.7 ms | 92-113 us |
//! | mailtls policyd (table) | 16,728 / 36,153 / 25,004 | 4.3 / 0.4 / 0.5 ms | 21-23 us |
//!
//! The MTA-STS path is 1.4-1.7x the daemon per CPU-second, not the issue's 10x: each lookup
//! hops to the blocking discovery pool (a thread wake-up each way), which the table path,
//! answered on the event loop, does not (4-4.5x the daemon per CPU-second).
//!
//! Environment: `MAILTLS_BIN` (default `target/release/mailtls`), `MAILTLS_MTA_STS_VENV`
//! (default `target/mta-sts-venv`; without it the daemon's line is skipped, said so),
//! `MAILTLS_BENCH_STS_PORT` (the daemon's port, default 2561), `MAILTLS_BENCH_CLIENTS`
//! (concurrent connections, default 8), `MAILTLS_BENCH_SECS` (per server, default 3),
//! `MAILTLS_BENCH_COMPARE=HOST:PORT:NAME` (yet another socketmap server, same keys).

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

fn report(label: &str, run: &Run, cpu: Option<Duration>) {
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
    if let Some(cpu) = cpu.filter(|c| !c.is_zero()) {
        println!(
            "{:<28} {:>10.0} lookups per server CPU-second ({:.1} us CPU per lookup)",
            "",
            run.lookups as f64 / cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / run.lookups.max(1) as f64
        );
    }
}

struct Server(Child);

impl Server {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// The CPU time a process used so far (user + system, all its threads), from /proc: what a
/// server spends per lookup, whatever the load the bench's own clients put on the machine.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces; the last ')' closes it).
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime, fields 14 and 15 of the line: 12th and 13th after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ, the unit of these fields, is 100 on every Linux target.
    Some(Duration::from_millis(ticks * 10))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mailtls policyd` with `args` on a kernel-chosen port.
fn start_policyd(bin: &PathBuf, args: &[&std::ffi::OsStr]) -> (Server, SocketAddr) {
    let mut child = Command::new(bin)
        .args(["policyd", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let server = Server(child);
    let json: serde_json::Value = serde_json::from_str(&first).unwrap();
    (server, json["listening"].as_str().unwrap().parse().unwrap())
}

/// Starts the warm `mta-sts-daemon` from `venv` on `port`, or says why not.
fn start_daemon(venv: &std::path::Path, dir: &std::path::Path, port: u16) -> Option<Server> {
    let python = venv.join("bin/python");
    if !venv.join("bin/mta-sts-daemon").exists() {
        println!(
            "mta-sts-daemon skipped: {} has no postfix-mta-sts-resolver (see benches/policyd.rs)",
            venv.display()
        );
        return None;
    }
    let config = dir.join("mta-sts-daemon.yml");
    std::fs::write(
        &config,
        format!(
            "host: 127.0.0.1\nport: {port}\nreuse_port: true\ncache_grace: 31536000\n\
             cache:\n  type: internal\n  options:\n    cache_size: {}\n\
             default_zone:\n  strict_testing: false\n  timeout: 4\n\
             zones:\n  policy:\n    strict_testing: false\n    timeout: 4\n",
            ENTRIES * 2
        ),
    )
    .unwrap();
    let child = Command::new(python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/mta_sts_daemon_warm.py"))
        .arg(dir.join("policies.tsv"))
        .arg("-c")
        .arg(&config)
        .arg("-v")
        .arg("warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server = Server(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..300 {
        if TcpStream::connect(addr).is_ok() {
            return Some(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("mta-sts-daemon skipped: nothing listens on {addr} after 30 s");
    None
}

/// One lookup, to show what a server answers.
fn sample(addr: SocketAddr, name: &str, key: &str) -> String {
    let mut stream = BufReader::new(TcpStream::connect(addr).unwrap());
    stream
        .get_mut()
        .write_all(&netstring(&format!("{name} {key}")))
        .unwrap();
    read_netstring(&mut stream).unwrap_or_default()
}

fn p99(run: &Run) -> Duration {
    let n = run.latencies.len();
    if n == 0 {
        return Duration::ZERO;
    }
    run.latencies[((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1]
}

fn rate(run: &Run) -> f64 {
    run.lookups as f64 / run.elapsed.as_secs_f64()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("MAILTLS_BIN")
        .map_or_else(|| root.join("target/release/mailtls"), PathBuf::from);
    if !bin.exists() {
        println!(
            "policyd bench skipped: {} not found (cargo build --release --features cli)",
            bin.display()
        );
        return;
    }
    let venv = std::env::var_os("MAILTLS_MTA_STS_VENV")
        .map_or_else(|| root.join("target/mta-sts-venv"), PathBuf::from);
    let sts_port = env_or("MAILTLS_BENCH_STS_PORT", 2561_u16);
    let clients = env_or("MAILTLS_BENCH_CLIENTS", 8_usize);
    let secs = env_or("MAILTLS_BENCH_SECS", 3_u64);
    let dir = std::env::temp_dir().join(format!("mailtls-policyd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The same 10,000 MTA-STS domains for every server.
    let mut keys = Vec::with_capacity(ENTRIES);
    let mut table = String::new();
    let mut answers = serde_json::Map::new();
    let mut policies = String::new();
    for i in 0..ENTRIES {
        let domain = format!("sts{i}.example");
        let policy = format!(
            "version: STSv1\nmode: enforce\nmx: mx.{domain}\nmx: *.mail.{domain}\nmax_age: 86400\n"
        );
        writeln!(
            table,
            "{domain} secure match=mx.{domain}:.mail.{domain} servername=hostname"
        )
        .unwrap();
        answers.insert(
            domain.clone(),
            serde_json::json!({ "mx": [format!("mx.{domain}")], "sts_policy": policy }),
        );
        writeln!(
            policies,
            "{domain}\t20261208\t{}",
            policy.replace('\n', "\\n")
        )
        .unwrap();
        keys.push(domain);
    }
    std::fs::write(dir.join("table"), table).unwrap();
    std::fs::write(
        dir.join("answers.json"),
        serde_json::Value::Object(answers).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("policies.tsv"), policies).unwrap();

    let answers_path = dir.join("answers.json");
    let table_path = dir.join("table");
    let (sts, sts_addr) = start_policyd(
        &bin,
        &["--discovery-answers".as_ref(), answers_path.as_os_str()],
    );
    let (table, table_addr) =
        start_policyd(&bin, &["--policy-map".as_ref(), table_path.as_os_str()]);
    let daemon = start_daemon(&venv, &dir, sts_port);

    println!("{clients} persistent connections, {secs} s per server, {ENTRIES} MTA-STS domains");
    let mut servers = vec![("mailtls policyd (MTA-STS)", sts_addr, sts.pid())];
    if let Some(daemon) = &daemon {
        servers.push((
            "mta-sts-daemon",
            SocketAddr::from(([127, 0, 0, 1], sts_port)),
            daemon.pid(),
        ));
    }
    servers.push(("mailtls policyd (table)", table_addr, table.pid()));
    let mut runs = Vec::new();
    for (label, addr, _) in &servers {
        warm(*addr, "policy", &keys);
        println!("  {label} answers: {}", sample(*addr, "policy", &keys[0]));
    }
    for (label, addr, pid) in &servers {
        let before = cpu_time(*pid);
        let run = drive(*addr, "policy", &keys, clients, secs);
        let cpu = cpu_time(*pid)
            .zip(before)
            .map(|(after, before)| after.saturating_sub(before));
        report(label, &run, cpu);
        runs.push((run, cpu));
    }
    if daemon.is_some() {
        let ((ours, our_cpu), (theirs, their_cpu)) = (&runs[0], &runs[1]);
        if let (Some(ours_cpu), Some(theirs_cpu)) = (our_cpu, their_cpu) {
            let per_cpu = |run: &Run, cpu: &Duration| run.lookups as f64 / cpu.as_secs_f64();
            println!(
                "ratio mailtls (MTA-STS) / mta-sts-daemon: {:.1}x lookups per server CPU-second",
                per_cpu(ours, ours_cpu) / per_cpu(theirs, theirs_cpu)
            );
        }
        println!(
            "ratio mailtls (MTA-STS) / mta-sts-daemon: {:.1}x lookups/s, p99 {:.1} us vs {:.1} us ({:.1}x lower)",
            rate(ours) / rate(theirs),
            p99(ours).as_secs_f64() * 1e6,
            p99(theirs).as_secs_f64() * 1e6,
            p99(theirs).as_secs_f64() / p99(ours).as_secs_f64().max(1e-9),
        );
    }

    if let Ok(compare) = std::env::var("MAILTLS_BENCH_COMPARE") {
        let (host_port, name) = compare.rsplit_once(':').expect("HOST:PORT:NAME");
        let other: SocketAddr = host_port.parse().expect("HOST:PORT");
        warm(other, name, &keys);
        report(
            &format!("compared ({compare})"),
            &drive(other, name, &keys, clients, secs),
            None,
        );
    }
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
