//! The adapters' `log` events (src/io/events.rs), captured by a test logger for real
//! deliveries over 127.0.0.1 through `io::blocking`: the connection, the TLS session with
//! Postfix's trust word, version and suite, the decision that governed the attempt, the
//! server's side of the same session, and a deferral with its reply. Every fact is a typed
//! key-value (numbers as numbers), and no value is Rust debug text.

#![cfg(feature = "blocking")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use log::kv::{Key, Value, VisitSource};
use log::{Level, Log, Metadata, Record};
use mailtls::io::blocking;
use mailtls::tls::TlsIdentity;
use support::loopback::{blocking_server, delivery, message, server_config, MX};
use support::pki::Ca;

/// One captured record: target, level, message and key-values (with whether each was a
/// number).
#[derive(Clone, Debug)]
struct Event {
    target: String,
    level: Level,
    message: String,
    fields: BTreeMap<String, Field>,
}

#[derive(Clone, Debug, PartialEq)]
enum Field {
    Number(u64),
    Bool(bool),
    Text(String),
}

impl Event {
    fn text(&self, key: &str) -> &str {
        match self.fields.get(key) {
            Some(Field::Text(t)) => t,
            other => panic!("{key}: not text: {other:?} in {self:?}"),
        }
    }
}

struct Capture(Mutex<Vec<Event>>);

struct Fields<'a>(&'a mut BTreeMap<String, Field>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let field = if let Some(n) = value.to_u64() {
            Field::Number(n)
        } else if let Some(b) = value.to_bool() {
            Field::Bool(b)
        } else {
            Field::Text(value.to_string())
        };
        self.0.insert(key.as_str().to_owned(), field);
        Ok(())
    }
}

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        if !record.target().starts_with("mailtls::") {
            return;
        }
        let mut fields = BTreeMap::new();
        record.key_values().visit(&mut Fields(&mut fields)).unwrap();
        self.0.lock().unwrap().push(Event {
            target: record.target().to_owned(),
            level: record.level(),
            message: record.args().to_string(),
            fields,
        });
    }

    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

fn take() -> Vec<Event> {
    std::mem::take(&mut *capture().0.lock().unwrap())
}

fn find<'a>(events: &'a [Event], target: &str, message: &str) -> &'a Event {
    events
        .iter()
        .find(|e| e.target == target && e.message == message)
        .unwrap_or_else(|| panic!("no {target} {message:?} event in {events:#?}"))
}

/// No value is Rust debug text.
fn no_debug_text(events: &[Event]) {
    for event in events {
        for (key, field) in &event.fields {
            if let Field::Text(text) = field {
                assert!(
                    !text.contains("Some(") && !text.contains(" { ") && !text.contains("None"),
                    "{key} = {text} in {event:?}"
                );
            }
        }
    }
}

/// One delivery under `policy` to a loopback server presenting `identity` (none: no
/// STARTTLS): whether every message was accepted, the server's port, and the events it
/// caused (checked for debug text).
fn deliver_once(identity: Option<TlsIdentity>, policy: &str) -> (bool, u16, Vec<Event>) {
    let (addr, _inbox, server) = blocking_server(server_config(identity), 1);
    let (mut d, connector) = delivery(policy, addr);
    let report = blocking::deliver(
        &mut d,
        &[message("events", "rcpt@partner.test")],
        &connector,
    );
    server.join().unwrap();
    let events = take();
    no_debug_text(&events);
    (report.all_accepted(), addr.port(), events)
}

#[test]
fn one_delivery_and_one_deferral_are_told_as_typed_events() {
    capture();
    let pki = Ca::root("mailtls events test CA");
    let ta = pki.tafile().display().to_string();

    // A delivery under `secure`: connection, TLS (Verified), the decision, the message.
    let secure = format!("secure match={MX} tafile={ta}");
    let (accepted, port, events) = deliver_once(Some(pki.leaf_for(MX).identity()), &secure);
    assert!(accepted, "{events:#?}");
    let host = format!("{MX}:{port}");
    let connecting = find(&events, "mailtls::delivery", "connecting");
    assert_eq!(connecting.text("host"), host);
    let tls = find(&events, "mailtls::delivery", "tls established");
    assert_eq!(tls.level, Level::Info);
    assert_eq!(tls.text("trust"), "Verified");
    assert_eq!(tls.text("tls_version"), "TLSv1.3");
    assert!(tls.text("cipher").starts_with("TLS_"), "{tls:?}");
    let greeting = find(&events, "mailtls::delivery", "greeting");
    assert_eq!(greeting.fields["code"], Field::Number(220));
    let result = find(&events, "mailtls::delivery", "message result");
    assert_eq!(result.fields["accepted"], Field::Bool(true));
    assert_eq!(result.fields["code"], Field::Number(250));
    let attempt = find(&events, "mailtls::delivery", "attempt finished");
    assert_eq!(attempt.text("next"), "done");
    assert_eq!(attempt.text("trust"), "Verified");
    assert!(!attempt.text("decided_by").is_empty(), "{attempt:?}");
    assert_eq!(attempt.text("tls_rpt_policy"), "no-policy-found");
    let over = find(&events, "mailtls::delivery", "delivery over");
    assert_eq!(over.text("outcome"), "completed");
    // The server's side of the same session: Anonymous (no client certificate asked for).
    let inbound = find(&events, "mailtls::serve", "tls established");
    assert_eq!(inbound.text("client_trust"), "Anonymous");
    let session = find(&events, "mailtls::serve", "session over");
    assert_eq!(session.text("close"), "quit");
    assert!(matches!(session.fields["bytes_in"], Field::Number(n) if n > 0));

    // A wrong name under `secure`: the certificate is refused (Untrusted, as Postfix 3 says)
    // and the delivery defers with its status.
    let (accepted, _, events) =
        deliver_once(Some(pki.leaf_for("wrong.example").identity()), &secure);
    assert!(!accepted);
    let attempt = find(&events, "mailtls::delivery", "attempt finished");
    assert_eq!(attempt.level, Level::Warn);
    assert_eq!(attempt.text("result_type"), "certificate-host-mismatch");
    assert_eq!(attempt.text("trust"), "Untrusted");
    assert!(!attempt.text("certificate_error").is_empty(), "{attempt:?}");
    let over = find(&events, "mailtls::delivery", "delivery over");
    assert_eq!(over.level, Level::Warn);
    assert_eq!(over.text("outcome"), "deferred");
    assert!(over.text("status").starts_with("451 4."), "{over:?}");
    let failed = find(&events, "mailtls::serve", "tls failed");
    assert!(!failed.text("result_type").is_empty(), "{failed:?}");

    // A peer without STARTTLS under `may`: plaintext, said as such.
    let (accepted, _, events) = deliver_once(None, "may");
    assert!(accepted, "{events:#?}");
    let plaintext = find(&events, "mailtls::delivery", "plaintext");
    assert_eq!(plaintext.text("reason"), "starttls-not-offered");
    let caps = find(&events, "mailtls::delivery", "capabilities");
    assert_eq!(caps.fields["starttls"], Field::Bool(false));

    // Nothing listens: the connect failure is told with the host.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let (mut d, connector) = delivery("may", addr);
    let _ = blocking::deliver(
        &mut d,
        &[message("events", "rcpt@partner.test")],
        &connector,
    );
    let events = take();
    let failed = find(&events, "mailtls::delivery", "connect failed");
    assert_eq!(failed.level, Level::Warn);
    assert!(!failed.text("error").is_empty());

    #[cfg(feature = "dns")]
    discovery_events();

    // A state store's notices, logged by the one function embedders and the glue call.
    mailtls::io::events::store_notice(&mailtls::state::StoreNotice::Failing(
        mailtls::state::StoreError::Unavailable {
            location: "redis://127.0.0.1:1".into(),
            detail: "connection refused".into(),
        },
    ));
    mailtls::io::events::store_notice(&mailtls::state::StoreNotice::Recovered {
        location: "redis://127.0.0.1:1".into(),
    });
    let events = take();
    no_debug_text(&events);
    let failing = find(&events, "mailtls::state", "store failing");
    assert_eq!(failing.level, Level::Warn);
    assert!(
        failing.text("error").contains("connection refused"),
        "{failing:?}"
    );
    let recovered = find(&events, "mailtls::state", "store recovered");
    assert_eq!(recovered.text("location"), "redis://127.0.0.1:1");
}

/// Discovery through a resolver whose MX lookup fails (SERVFAIL) and that finds nothing else:
/// the DNS failure and the summary, both typed.
#[cfg(feature = "dns")]
fn discovery_events() {
    use mailtls::io::discover::{Discoverer, NoFetch};
    use mailtls::io::dns::Resolve;
    use mailtls::names::DnsName;
    use mailtls::policy::dane::DnssecStatus;
    use mailtls::policy::discovery::{Lookup, LookupError, MxRecord};
    use mailtls::policy::mta_sts::StsCache;
    use mailtls::policy::OutboundPolicy;

    struct Failing;
    fn none<T>() -> Lookup<T> {
        Err(LookupError::NotFound {
            nxdomain: false,
            status: DnssecStatus::Insecure,
        })
    }
    impl Resolve for Failing {
        fn mx(&self, _: &DnsName) -> Lookup<MxRecord> {
            Err(LookupError::Temporary {
                detail: "SERVFAIL from 192.0.2.53".into(),
            })
        }
        fn addresses(&self, _: &DnsName) -> Lookup<std::net::IpAddr> {
            none()
        }
        fn tlsa(&self, _: &DnsName) -> Lookup<Vec<u8>> {
            none()
        }
        fn txt(&self, _: &DnsName) -> Lookup<String> {
            none()
        }
    }
    let mut cache = StsCache::default();
    let domain = DnsName::parse("partner.test").unwrap();
    let _ = Discoverer::new(&Failing, &NoFetch, &mut cache).discover(
        &OutboundPolicy::new(),
        &domain,
        mailtls::io::now(),
    );
    let events = take();
    no_debug_text(&events);
    let failure = find(&events, "mailtls::discovery", "dns failure");
    assert_eq!(failure.level, Level::Warn);
    assert_eq!(failure.text("query"), "mx");
    assert!(failure.text("error").contains("SERVFAIL"), "{failure:?}");
    let found = find(&events, "mailtls::discovery", "discovered");
    assert_eq!(found.text("domain"), "partner.test");
    assert_eq!(found.text("mx"), "failed");
    assert_eq!(found.fields["hosts"], Field::Number(0));
}
