//! The fleet store: a Redis (or compatible) server, over a small RESP2 client of its own.
//!
//! Why no client crate: the store needs a dozen commands over one blocking connection; the
//! Redis crates bring their own URL, TLS and async stacks. This client is `std::net` only,
//! bounds everything a server sends, and fails with a typed [`StoreError`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{millis, timestamp};
use crate::names::{DnsName, HostId};
use crate::policy::mta_sts::{CachedPolicy, StsPolicy};
use crate::state::{
    host_key, rung_from_str, rung_rank, ReportDay, RungSeen, Store, StoreError, Tally, TallyKey,
};
use crate::time::Timestamp;
use crate::tlsrpt::SessionOutcome;

/// The schema version of the keys this build writes, kept under `<prefix>schema`.
pub const REDIS_SCHEMA_VERSION: i64 = 1;

/// The longest bulk string accepted from the server (a policy is at most 64 KiB).
const MAX_BULK: usize = 8 << 20;
/// The most elements of one array reply.
const MAX_ARRAY: usize = 1 << 20;
/// The longest status, error or integer line.
const MAX_LINE: usize = 64 << 10;

/// How a [`RedisStore`] reaches its server.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// Prepended to every key, so several mailtls fleets (or tests) share one server.
    /// Default `mailtls:`.
    pub prefix: String,
    /// The database number (`SELECT`). Default 0.
    pub db: u32,
    /// The password (`AUTH`), if the server wants one.
    pub password: Option<String>,
    /// How long to wait for the connection, and for each reply. Default 1 s.
    pub timeout: Duration,
    /// After a failure, how long every operation fails at once without trying the server
    /// again, so a down server costs each message nothing. Default 1 s.
    pub retry_after: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "mailtls:".to_owned(),
            db: 0,
            password: None,
            timeout: Duration::from_secs(1),
            retry_after: Duration::from_secs(1),
        }
    }
}

impl RedisOptions {
    /// The same options with another key prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The same options with another timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same options with another pause after a failure.
    #[must_use]
    pub const fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }
}

/// A [`Store`] on a Redis server, shared by every MTA of a fleet: one MTA's fetched MTA-STS
/// policy, remembered rung or counted outcome is every MTA's.
///
/// One connection per store, opened on first use and again after a failure. When the server
/// is down or slow, operations fail with [`StoreError::Unavailable`] within the timeout, and
/// for [`RedisOptions::retry_after`] after that fail at once; callers keep their in-memory
/// state ([`StsState`](crate::state::StsState)).
///
/// Conditional writes (a newer policy, a stronger rung) and counters run as Lua scripts or
/// single commands, so MTAs racing on one key never lose an update.
#[derive(Debug)]
pub struct RedisStore {
    address: String,
    options: RedisOptions,
    location: String,
    state: Mutex<Link>,
}

#[derive(Debug, Default)]
struct Link {
    conn: Option<Conn>,
    down_until: Option<Instant>,
}

#[derive(Debug)]
struct Conn {
    reader: BufReader<TcpStream>,
}

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Value>>),
}

impl RedisStore {
    /// A store on the server at `address` (`host:port`), connected on first use.
    pub fn new(address: impl Into<String>, options: RedisOptions) -> Self {
        let address = address.into();
        let location = format!("redis://{address}/{}", options.db);
        Self {
            address,
            options,
            location,
            state: Mutex::new(Link::default()),
        }
    }

    /// A store from a URL: `redis://[:password@]host[:port][/db][?prefix=P]` (port 6379 when
    /// left out), connected at once so a wrong address or a newer schema shows now.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::from_url(url, RedisOptions::default())?;
        store.check_schema()?;
        Ok(store)
    }

    /// Parses a `redis://` URL over `options` (the URL's password, db and prefix win); does not
    /// connect.
    pub fn from_url(url: &str, mut options: RedisOptions) -> Result<Self, StoreError> {
        let bad = |detail: &str| StoreError::Unavailable {
            location: "redis URL".to_owned(),
            detail: detail.to_owned(),
        };
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| bad("a Redis store URL starts with redis://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
                if !password.is_empty() {
                    options.password = Some(password.to_owned());
                }
                host
            }
            None => authority,
        };
        if host_port.is_empty() {
            return Err(bad("the Redis URL names no host"));
        }
        let has_port = host_port
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            && !host_port.ends_with(']');
        let address = if has_port {
            host_port.to_owned()
        } else {
            format!("{host_port}:6379")
        };
        if !path.is_empty() {
            options.db = path
                .parse()
                .map_err(|_| bad("the Redis URL's path must be a database number"))?;
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("prefix", value)) => options.prefix = value.to_owned(),
                _ => return Err(bad("the Redis URL knows one query parameter: prefix")),
            }
        }
        Ok(Self::new(address, options))
    }

    /// Checks the schema version under `<prefix>schema`, writing it on a fresh server.
    pub fn check_schema(&self) -> Result<(), StoreError> {
        let key = self.key("schema");
        let version = REDIS_SCHEMA_VERSION.to_string();
        self.call(&[b"SET", key.as_bytes(), version.as_bytes(), b"NX"])?;
        let found = self.call(&[b"GET", key.as_bytes()])?;
        let found = text(found)
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| StoreError::NotAStateFile {
                location: self.location.clone(),
                detail: format!("{key} does not hold a mailtls schema version"),
            })?;
        if found > REDIS_SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                location: self.location.clone(),
                found,
                supported: REDIS_SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.options.prefix)
    }

    fn lock(&self) -> MutexGuard<'_, Link> {
        // A panic mid-command leaves a connection in an unknown state: drop it.
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut link = poisoned.into_inner();
            link.conn = None;
            link
        })
    }

    fn unavailable(&self, detail: String) -> StoreError {
        StoreError::Unavailable {
            location: self.location.clone(),
            detail,
        }
    }

    /// Runs one command: connects when needed, fails at once during the pause after a
    /// failure, and drops the connection on any transport error.
    fn call(&self, args: &[&[u8]]) -> Result<Value, StoreError> {
        let mut link = self.lock();
        if link.conn.is_none() {
            if let Some(until) = link.down_until {
                if Instant::now() < until {
                    return Err(self.unavailable(
                        "it failed moments ago; not retrying until the pause is over".to_owned(),
                    ));
                }
            }
            match self.connect() {
                Ok(conn) => link.conn = Some(conn),
                Err(e) => {
                    link.down_until = Some(Instant::now() + self.options.retry_after);
                    return Err(e);
                }
            }
        }
        let result = match link.conn.as_mut() {
            Some(conn) => conn.command(args),
            None => Err("no connection".to_owned()),
        };
        match result {
            Ok(Value::Error(message)) => Err(self.reply_error(&message)),
            Ok(value) => {
                link.down_until = None;
                Ok(value)
            }
            Err(detail) => {
                link.conn = None;
                link.down_until = Some(Instant::now() + self.options.retry_after);
                Err(self.unavailable(detail))
            }
        }
    }

    fn reply_error(&self, message: &str) -> StoreError {
        let location = self.location.clone();
        let detail = message.chars().take(300).collect();
        if message.starts_with("OOM") {
            StoreError::Full { location, detail }
        } else if message.starts_with("NOAUTH")
            || message.starts_with("WRONGPASS")
            || message.starts_with("LOADING")
            || message.starts_with("MASTERDOWN")
        {
            StoreError::Unavailable { location, detail }
        } else {
            StoreError::Backend { location, detail }
        }
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        let addrs = self
            .address
            .to_socket_addrs()
            .map_err(|e| self.unavailable(format!("cannot resolve {}: {e}", self.address)))?;
        let mut last = format!("{} resolves to no address", self.address);
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.options.timeout) {
                Ok(stream) => {
                    let setup = stream
                        .set_read_timeout(Some(self.options.timeout))
                        .and_then(|()| stream.set_write_timeout(Some(self.options.timeout)))
                        .and_then(|()| stream.set_nodelay(true));
                    if let Err(e) = setup {
                        last = e.to_string();
                        continue;
                    }
                    let mut conn = Conn {
                        reader: BufReader::new(stream),
                    };
                    self.hello(&mut conn)?;
                    return Ok(conn);
                }
                Err(e) => last = format!("cannot connect to {addr}: {e}"),
            }
        }
        Err(self.unavailable(last))
    }

    fn hello(&self, conn: &mut Conn) -> Result<(), StoreError> {
        let mut steps: Vec<Vec<Vec<u8>>> = Vec::new();
        if let Some(password) = &self.options.password {
            steps.push(vec![b"AUTH".to_vec(), password.as_bytes().to_vec()]);
        }
        if self.options.db != 0 {
            steps.push(vec![
                b"SELECT".to_vec(),
                self.options.db.to_string().into_bytes(),
            ]);
        }
        for step in steps {
            let args: Vec<&[u8]> = step.iter().map(Vec::as_slice).collect();
            match conn.command(&args) {
                Ok(Value::Error(message)) => return Err(self.reply_error(&message)),
                Ok(_) => {}
                Err(detail) => return Err(self.unavailable(detail)),
            }
        }
        Ok(())
    }

    fn eval(&self, script: &str, keys: &[&str], args: &[&str]) -> Result<Value, StoreError> {
        let count = keys.len().to_string();
        let mut all: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), count.as_bytes()];
        all.extend(keys.iter().map(|k| k.as_bytes()));
        all.extend(args.iter().map(|a| a.as_bytes()));
        self.call(&all)
    }

    fn bad(&self, what: String, detail: String) -> StoreError {
        StoreError::BadRecord {
            location: self.location.clone(),
            what,
            detail,
        }
    }

    fn fields(&self, value: Value, what: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let Value::Array(Some(items)) = value else {
            return Err(self.bad(what.to_owned(), "not a hash".to_owned()));
        };
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(name), Some(value)) = (items.next(), items.next()) {
            match (name, value) {
                (Value::Bulk(Some(name)), Value::Bulk(Some(value))) => {
                    out.push((String::from_utf8_lossy(&name).into_owned(), value));
                }
                _ => return Err(self.bad(what.to_owned(), "a field is not a string".to_owned())),
            }
        }
        Ok(out)
    }

    fn day_key(&self, kind: &str, day: &ReportDay) -> String {
        self.key(&format!("{kind}{}:{}", day.day, day.policy_domain))
    }
}

impl Conn {
    /// Writes one command as a RESP array of bulk strings and reads its reply. A transport
    /// or protocol error comes back as text; the caller drops the connection.
    fn command(&mut self, args: &[&[u8]]) -> Result<Value, String> {
        let mut out = Vec::with_capacity(64 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.reader
            .get_mut()
            .write_all(&out)
            .map_err(|e| format!("writing a command: {e}"))?;
        read_value(&mut self.reader, 0)
    }
}

/// Reads one reply, bounded: lines up to [`MAX_LINE`], bulk strings up to [`MAX_BULK`],
/// arrays up to [`MAX_ARRAY`] elements nested at most 4 deep.
fn read_value<R: BufRead>(reader: &mut R, depth: usize) -> Result<Value, String> {
    let line = read_line(reader)?;
    let (kind, rest) = line.split_at_checked(1).ok_or("an empty reply line")?;
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| "a malformed length or integer in a reply".to_owned())
    };
    match kind {
        "+" => Ok(Value::Status(rest.to_owned())),
        "-" => Ok(Value::Error(rest.to_owned())),
        ":" => Ok(Value::Int(number()?)),
        "$" => {
            let len = number()?;
            if len < 0 {
                return Ok(Value::Bulk(None));
            }
            let len = usize::try_from(len).map_err(|_| "a bulk length out of range")?;
            if len > MAX_BULK {
                return Err(format!("a {len}-byte reply, the limit is {MAX_BULK}"));
            }
            let mut data = vec![0; len + 2];
            reader
                .read_exact(&mut data)
                .map_err(|e| format!("reading a reply: {e}"))?;
            if !data.ends_with(b"\r\n") {
                return Err("a bulk reply not ended by CRLF".to_owned());
            }
            data.truncate(len);
            Ok(Value::Bulk(Some(data)))
        }
        "*" => {
            let len = number()?;
            if len < 0 {
                return Ok(Value::Array(None));
            }
            let len = usize::try_from(len).map_err(|_| "an array length out of range")?;
            if len > MAX_ARRAY || depth >= 4 {
                return Err(format!("an array reply of {len} elements at depth {depth}"));
            }
            let mut items = Vec::with_capacity(len.min(1024));
            for _ in 0..len {
                items.push(read_value(reader, depth + 1)?);
            }
            Ok(Value::Array(Some(items)))
        }
        _ => Err("a reply of an unknown RESP type".to_owned()),
    }
}

fn read_line<R: BufRead>(reader: &mut R) -> Result<String, String> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("reading a reply: {e}"))?;
    if read == 0 {
        return Err("the server closed the connection".to_owned());
    }
    if !line.ends_with(b"\r\n") {
        return Err("a reply line too long or not ended by CRLF".to_owned());
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| "a reply line that is not UTF-8".to_owned())
}

/// A bulk or status reply as text.
fn text(value: Value) -> Option<String> {
    match value {
        Value::Bulk(Some(bytes)) => String::from_utf8(bytes).ok(),
        Value::Status(s) => Some(s),
        _ => None,
    }
}

/// Replaces the stored policy unless the stored one was fetched later; expires the key with
/// the policy (relative to the server's clock: `expires_at - fetched_at`, plus a minute).
const PUT_POLICY: &str = "local cur = redis.call('HGET', KEYS[1], 'fetched_at')
if cur and tonumber(cur) > tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'policy', ARGV[2], 'fetched_at', ARGV[3], 'expires_at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1";

/// Keeps the strongest rung (lowest rank); the same rung refreshes the time.
const REMEMBER_RUNG: &str = "local cur = redis.call('HGET', KEYS[1], 'rank')
if cur and tonumber(cur) < tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'rung', ARGV[1], 'rank', ARGV[2], 'seen_at', ARGV[3])
return 1";

/// Indexes the day, then counts.
const RECORD: &str = "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)";

/// Claims a destination of a day (KEYS[1] the sent marks, KEYS[2] the claims; ARGV: the
/// destination, the holder, now and until in ms): refused when sent, or claimed by another
/// holder until after now. A claim is `until LF holder`.
const CLAIM: &str = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local sep = string.find(cur, '\\n', 1, true)
  if sep then
    local untl = tonumber(string.sub(cur, 1, sep - 1)) or 0
    if string.sub(cur, sep + 1) ~= ARGV[2] and untl > tonumber(ARGV[3]) then return 0 end
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. '\\n' .. ARGV[2])
return 1";

/// Drops the claim of ARGV[1] when ARGV[2] holds it.
const RELEASE: &str = "local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local sep = string.find(cur, '\\n', 1, true)
  if sep and string.sub(cur, sep + 1) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
end
return 0";

/// Drops every day before ARGV[1]: its counters, its sent marks, its claims and its index
/// entry.
const FORGET_DAYS: &str =
    "local days = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, m in ipairs(days) do redis.call('DEL', ARGV[2] .. m, ARGV[3] .. m, ARGV[4] .. m) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return #days";

impl Store for RedisStore {
    fn location(&self) -> &str {
        &self.location
    }

    fn sts_policy(&self, domain: &DnsName) -> Result<Option<CachedPolicy>, StoreError> {
        let key = self.key(&format!("sts:{}", domain.as_str()));
        let what = || format!("MTA-STS policy for {}", domain.as_str());
        let reply = self.call(&[b"HGETALL", key.as_bytes()])?;
        let fields = self.fields(reply, &what())?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| core::str::from_utf8(v).ok())
                .ok_or_else(|| self.bad(what(), format!("no {name} field")))
        };
        let number = |name: &str| {
            get(name)?
                .parse::<i64>()
                .map_err(|_| self.bad(what(), format!("{name} is not a number")))
        };
        let policy = StsPolicy::parse(get("policy")?.as_bytes())
            .map_err(|e| self.bad(what(), e.to_string()))?;
        Ok(Some(CachedPolicy {
            id: get("id")?.to_owned(),
            policy,
            fetched_at: timestamp(number("fetched_at")?),
            expires_at: timestamp(number("expires_at")?),
        }))
    }

    fn put_sts_policy(&self, domain: &DnsName, entry: &CachedPolicy) -> Result<(), StoreError> {
        let key = self.key(&format!("sts:{}", domain.as_str()));
        let ttl = millis(entry.expires_at)
            .saturating_sub(millis(entry.fetched_at))
            .saturating_add(60_000)
            .max(1);
        self.eval(
            PUT_POLICY,
            &[&key],
            &[
                &entry.id,
                &entry.policy.lines().join("\n"),
                &millis(entry.fetched_at).to_string(),
                &millis(entry.expires_at).to_string(),
                &ttl.to_string(),
            ],
        )
        .map(drop)
    }

    fn best_rung(&self, host: &HostId) -> Result<Option<RungSeen>, StoreError> {
        let key = self.key(&format!("rung:{}", host_key(host)));
        let what = || format!("downgrade memory for {host}");
        let reply = self.call(&[b"HMGET", key.as_bytes(), b"rung", b"seen_at"])?;
        let Value::Array(Some(items)) = reply else {
            return Err(self.bad(what(), "not a hash".to_owned()));
        };
        let mut items = items.into_iter().map(text);
        let (Some(rung), Some(at)) = (items.next().flatten(), items.next().flatten()) else {
            return Ok(None);
        };
        let rung = rung_from_str(&rung).map_err(|detail| self.bad(what(), detail))?;
        let at = at
            .parse::<i64>()
            .map_err(|_| self.bad(what(), "seen_at is not a number".to_owned()))?;
        Ok(Some(RungSeen {
            rung,
            at: timestamp(at),
        }))
    }

    fn remember_rung(&self, host: &HostId, seen: RungSeen) -> Result<(), StoreError> {
        let key = self.key(&format!("rung:{}", host_key(host)));
        self.eval(
            REMEMBER_RUNG,
            &[&key],
            &[
                seen.rung.as_str(),
                &rung_rank(seen.rung).to_string(),
                &millis(seen.at).to_string(),
            ],
        )
        .map(drop)
    }

    fn forget_rung(&self, host: &HostId) -> Result<(), StoreError> {
        let key = self.key(&format!("rung:{}", host_key(host)));
        self.call(&[b"DEL", key.as_bytes()]).map(drop)
    }

    fn record_outcome(&self, outcome: &SessionOutcome) -> Result<(), StoreError> {
        let day = ReportDay::of(&outcome.policy.policy_domain, outcome.at);
        let field = TallyKey::of_outcome(outcome).to_field();
        self.eval(
            RECORD,
            &[&self.day_key("rpt:", &day), &self.key("rpt-days")],
            &[
                &field,
                &day.day.to_string(),
                &format!("{}:{}", day.day, day.policy_domain),
            ],
        )
        .map(drop)
    }

    fn report_days(&self) -> Result<Vec<ReportDay>, StoreError> {
        let key = self.key("rpt-days");
        let reply = self.call(&[b"ZRANGE", key.as_bytes(), b"0", b"-1"])?;
        let Value::Array(Some(items)) = reply else {
            return Err(self.bad("TLS-RPT day index".to_owned(), "not a list".to_owned()));
        };
        items
            .into_iter()
            .map(|item| {
                text(item)
                    .and_then(|m| {
                        let (day, domain) = m.split_once(':')?;
                        Some(ReportDay {
                            policy_domain: domain.to_owned(),
                            day: day.parse().ok()?,
                        })
                    })
                    .ok_or_else(|| {
                        self.bad(
                            "TLS-RPT day index".to_owned(),
                            "an entry is not day:domain".to_owned(),
                        )
                    })
            })
            .collect()
    }

    fn tallies(&self, day: &ReportDay) -> Result<Vec<Tally>, StoreError> {
        let key = self.day_key("rpt:", day);
        let what = format!("TLS-RPT counter of {day}");
        let reply = self.call(&[b"HGETALL", key.as_bytes()])?;
        self.fields(reply, &what)?
            .into_iter()
            .map(|(field, count)| {
                let key = TallyKey::from_field(&field)
                    .ok_or_else(|| self.bad(what.clone(), "a malformed field".to_owned()))?;
                let count = core::str::from_utf8(&count)
                    .ok()
                    .and_then(|c| c.parse::<u64>().ok())
                    .ok_or_else(|| {
                        self.bad(what.clone(), "a count that is no number".to_owned())
                    })?;
                key.decode(count)
                    .map_err(|detail| self.bad(what.clone(), detail))
            })
            .collect()
    }

    fn mark_sent(
        &self,
        day: &ReportDay,
        destination: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = self.day_key("rpt-sent:", day);
        let at = millis(at).to_string();
        let reply = self.call(&[
            b"HSETNX",
            key.as_bytes(),
            destination.as_bytes(),
            at.as_bytes(),
        ])?;
        Ok(reply == Value::Int(1))
    }

    fn is_sent(&self, day: &ReportDay, destination: &str) -> Result<bool, StoreError> {
        let key = self.day_key("rpt-sent:", day);
        let reply = self.call(&[b"HEXISTS", key.as_bytes(), destination.as_bytes()])?;
        Ok(reply == Value::Int(1))
    }

    fn claim_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let reply = self.eval(
            CLAIM,
            &[
                &self.day_key("rpt-sent:", day),
                &self.day_key("rpt-claim:", day),
            ],
            &[
                destination,
                holder,
                &millis(now).to_string(),
                &millis(until).to_string(),
            ],
        )?;
        Ok(reply == Value::Int(1))
    }

    fn release_send(
        &self,
        day: &ReportDay,
        destination: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.eval(
            RELEASE,
            &[&self.day_key("rpt-claim:", day)],
            &[destination, holder],
        )
        .map(drop)
    }

    fn forget_days_before(&self, day: u64) -> Result<(), StoreError> {
        self.eval(
            FORGET_DAYS,
            &[&self.key("rpt-days")],
            &[
                &day.to_string(),
                &self.key("rpt:"),
                &self.key("rpt-sent:"),
                &self.key("rpt-claim:"),
            ],
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a test failure.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(bytes: &[u8]) -> Result<Value, String> {
        read_value(&mut &bytes[..], 0)
    }

    #[test]
    fn replies_parse() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Value::Status("OK".into())));
        assert_eq!(parse(b":-3\r\n"), Ok(Value::Int(-3)));
        assert_eq!(parse(b"$-1\r\n"), Ok(Value::Bulk(None)));
        assert_eq!(
            parse(b"*2\r\n$1\r\na\r\n$0\r\n\r\n"),
            Ok(Value::Array(Some(vec![
                Value::Bulk(Some(b"a".to_vec())),
                Value::Bulk(Some(Vec::new()))
            ])))
        );
    }

    #[test]
    fn hostile_replies_are_errors_not_allocations() {
        // A server (or anything answering on its port) announcing huge or malformed replies.
        for reply in [
            &b"$99999999999\r\n"[..],
            b"*99999999999\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
            b"$3\r\nabcde",
            b"$x\r\n",
            b"?what\r\n",
            b"+no end",
            b"",
        ] {
            assert!(parse(reply).is_err(), "{}", String::from_utf8_lossy(reply));
        }
        let long = [b"+".as_slice(), &vec![b'a'; MAX_LINE + 10], b"\r\n"].concat();
        assert!(parse(&long).is_err());
    }

    #[test]
    fn urls_parse() {
        let s = RedisStore::from_url(
            "redis://:pw@127.0.0.1:2558/3?prefix=t:",
            RedisOptions::default(),
        )
        .unwrap();
        assert_eq!(s.address, "127.0.0.1:2558");
        assert_eq!(s.options.db, 3);
        assert_eq!(s.options.password.as_deref(), Some("pw"));
        assert_eq!(s.options.prefix, "t:");
        assert_eq!(s.location(), "redis://127.0.0.1:2558/3");
        let s = RedisStore::from_url("redis://cache.example", RedisOptions::default()).unwrap();
        assert_eq!(s.address, "cache.example:6379");
        for bad in ["http://x", "redis://", "redis://h/x", "redis://h?db=1"] {
            assert!(
                RedisStore::from_url(bad, RedisOptions::default()).is_err(),
                "{bad}"
            );
        }
    }
}
