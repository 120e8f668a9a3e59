//! What discovery found for one destination domain: the owned answers of its MX, address,
//! TLSA, `_mta-sts` and `_smtp._tls` lookups, each with its DNSSEC status, and the one
//! method that lends them to the precedence overlay ([`DiscoveryAnswers::with_inputs`]).
//!
//! The core looks nothing up: an adapter (`io::discover` with `io::dns`, or a mail server's
//! own resolver) fills these in. What the core decides here is pure:
//!
//! - [`MxOutcome::from_answer`]: an MX answer becomes preference-ordered hosts (equal
//!   preferences shuffled with the caller's random source, RFC 5321 §5.1), the implicit MX
//!   (no MX RRset: the domain itself), a null MX (RFC 7505: the domain accepts no mail, a
//!   permanent failure), a domain that does not exist (permanent), or a temporary / bogus
//!   failure (the mail waits; it is never sent anywhere less protected).
//! - [`DiscoveryAnswers::with_inputs`]: the answers as [`PrecedenceInputs`] for a message.
//!
//! A temporary failure and a bogus answer are kept apart from "no record" everywhere: the
//! precedence overlay skips a host whose TLSA lookup failed either way (so the mail defers),
//! and an MTA-STS TXT lookup that failed with nothing cached defers as well.

use core::fmt;
use core::net::IpAddr;

use super::dane::{DnssecStatus, TlsaSet};
use super::mta_sts::StsLookup;
use super::plan::{Destination, DestinationError, Plan};
use super::precedence::{self, Decision, HostTlsa, PrecedenceInputs};
use super::requiretls::MessageTls;
use super::status::Status;
use crate::names::DnsName;
use crate::tlsrpt::{TlsRptRecord, TxtSelectError};

/// The most MX hosts one destination yields; the rest are dropped (Postfix tries at most
/// `smtp_mx_address_limit`, 5 by default, addresses).
pub const MAX_MX_HOSTS: usize = 16;

/// One answer from a resolver: the records and the DNSSEC status of the RRset (the lowest
/// status along any CNAME chain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer<T> {
    /// The records, never empty (an empty RRset is [`LookupError::NotFound`]).
    pub records: Vec<T>,
    /// `Secure` or `Insecure`: a bogus answer is [`LookupError::Bogus`].
    pub status: DnssecStatus,
    /// The name the records are owned by when a CNAME chain led there from the name asked.
    pub canonical: Option<DnsName>,
}

/// Why a lookup brought no records.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name has no records of this type (NODATA) or does not exist (NXDOMAIN): a
    /// definite answer, with the DNSSEC status of the denial.
    #[error("{} ({})", if *.nxdomain { "no such domain" } else { "no records of this type" }, status_word(*.status))]
    NotFound {
        /// NXDOMAIN rather than NODATA.
        nxdomain: bool,
        /// `Secure` for an authenticated denial of existence.
        status: DnssecStatus,
    },
    /// No answer could be had: SERVFAIL, REFUSED, timeout, network error. Try later.
    #[error("temporary DNS failure: {detail}")]
    Temporary {
        /// What the resolver said.
        detail: String,
    },
    /// DNSSEC validation failed: the answer is forged or broken. Never acted upon.
    #[error("DNSSEC validation failed (bogus): {detail}")]
    Bogus {
        /// What the resolver said.
        detail: String,
    },
}

impl LookupError {
    /// The DNSSEC status this failure stands for in the precedence inputs: the denial's
    /// status, `Indeterminate` for a temporary failure, `Bogus` for a bogus answer.
    pub const fn status(&self) -> DnssecStatus {
        match self {
            Self::NotFound { status, .. } => *status,
            Self::Temporary { .. } => DnssecStatus::Indeterminate,
            Self::Bogus { .. } => DnssecStatus::Bogus,
        }
    }
}

/// A lower-case word for a status, for messages.
pub const fn status_word(status: DnssecStatus) -> &'static str {
    match status {
        DnssecStatus::Secure => "secure",
        DnssecStatus::Insecure => "insecure",
        DnssecStatus::Bogus => "bogus",
        DnssecStatus::Indeterminate => "indeterminate",
    }
}

/// The outcome of one lookup, as the answers keep it.
pub type Lookup<T> = Result<DnsAnswer<T>, LookupError>;

/// One MX record as a resolver returns it: the exchange is `None` for the root name `.`
/// (the null MX target, RFC 7505).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxRecord {
    /// The preference; lower is tried first.
    pub preference: u16,
    /// The exchange host, `None` for `.`.
    pub exchange: Option<DnsName>,
}

/// An MX host to try, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxHost {
    /// The host name.
    pub name: DnsName,
    /// Its preference (`0` for the implicit MX).
    pub preference: u16,
}

/// What the MX lookup of a domain says about where its mail goes.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxOutcome {
    /// The MX hosts in the order to try them.
    Hosts {
        /// Preference order; equal preferences in random order.
        hosts: Vec<MxHost>,
        /// The DNSSEC status of the MX RRset.
        status: DnssecStatus,
    },
    /// No MX RRset: the domain itself is the only host (RFC 5321 §5.1, the implicit MX).
    Implicit {
        /// The DNSSEC status of the denial of the MX RRset.
        status: DnssecStatus,
    },
    /// A null MX (RFC 7505): the domain accepts no mail. A permanent failure.
    NullMx {
        /// The DNSSEC status of the MX RRset.
        status: DnssecStatus,
    },
    /// The domain does not exist (NXDOMAIN). A permanent failure.
    NoDomain {
        /// The DNSSEC status of the denial.
        status: DnssecStatus,
    },
    /// The lookup failed temporarily or its answer was bogus: the mail waits.
    Failed(LookupError),
}

impl MxOutcome {
    /// The outcome of an MX answer for `domain`, with `random(n)` picking a number below
    /// `n` to shuffle hosts of equal preference (out-of-range results are reduced modulo n).
    ///
    /// Rules: records with the root target are dropped; when that leaves nothing, the
    /// domain has a null MX (RFC 7505 §3 says a null MX stands alone; one mixed with real
    /// hosts is ignored, the real hosts are used). Duplicate hosts keep their best
    /// preference. At most [`MAX_MX_HOSTS`] hosts are kept.
    pub fn from_answer(answer: Lookup<MxRecord>, random: &mut dyn FnMut(usize) -> usize) -> Self {
        match answer {
            Ok(answer) => {
                let records: Vec<(u16, DnsName)> = answer
                    .records
                    .into_iter()
                    .filter_map(|r| Some((r.preference, r.exchange?)))
                    .collect();
                if records.is_empty() {
                    return Self::NullMx {
                        status: answer.status,
                    };
                }
                Self::Hosts {
                    hosts: order_mx(records, random),
                    status: answer.status,
                }
            }
            Err(LookupError::NotFound {
                nxdomain: true,
                status,
            }) => Self::NoDomain { status },
            Err(LookupError::NotFound { status, .. }) => Self::Implicit { status },
            Err(e) => Self::Failed(e),
        }
    }

    /// The hosts to try for `domain`: the MX hosts, or the domain itself for the implicit
    /// MX; none when the outcome is a failure.
    pub fn hosts(&self, domain: &DnsName) -> Vec<MxHost> {
        match self {
            Self::Hosts { hosts, .. } => hosts.clone(),
            Self::Implicit { .. } => vec![MxHost {
                name: domain.clone(),
                preference: 0,
            }],
            _ => Vec::new(),
        }
    }

    /// The DNSSEC status of the MX lookup.
    pub const fn status(&self) -> DnssecStatus {
        match self {
            Self::Hosts { status, .. }
            | Self::Implicit { status }
            | Self::NullMx { status }
            | Self::NoDomain { status } => *status,
            Self::Failed(e) => e.status(),
        }
    }

    /// When no host can be tried: the reply the message gets (5.1.10 for a null MX,
    /// 5.1.2 for a domain that does not exist, 4.4.3 for a failed lookup).
    pub fn failure(&self) -> Option<Status> {
        match self {
            Self::Hosts { .. } | Self::Implicit { .. } => None,
            Self::NullMx { .. } => Some(Status::new(
                556,
                (5, 1, 10),
                "recipient domain accepts no mail (null MX, RFC 7505)",
            )),
            Self::NoDomain { .. } => Some(Status::new(
                550,
                (5, 1, 2),
                "recipient domain does not exist",
            )),
            Self::Failed(LookupError::Bogus { .. }) => Some(Status::new(
                451,
                (4, 4, 3),
                "MX lookup failed DNSSEC validation (bogus); deferred",
            )),
            Self::Failed(_) => Some(Status::new(
                451,
                (4, 4, 3),
                "MX lookup failed temporarily; deferred",
            )),
        }
    }
}

impl fmt::Display for MxOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hosts { hosts, status } => {
                write!(f, "MX ({}):", status_word(*status))?;
                for h in hosts {
                    write!(f, " {} {}", h.preference, h.name)?;
                }
                Ok(())
            }
            Self::Implicit { status } => {
                write!(f, "no MX, implicit MX ({})", status_word(*status))
            }
            Self::NullMx { status } => write!(f, "null MX ({})", status_word(*status)),
            Self::NoDomain { status } => write!(f, "no such domain ({})", status_word(*status)),
            Self::Failed(e) => write!(f, "MX lookup failed: {e}"),
        }
    }
}

/// Orders MX hosts: ascending preference, hosts of equal preference shuffled (Fisher-Yates)
/// with `random(n)`, a number below `n` from the caller's random source. A host listed twice
/// keeps its best preference; at most [`MAX_MX_HOSTS`] are kept.
pub fn order_mx(
    mut records: Vec<(u16, DnsName)>,
    random: &mut dyn FnMut(usize) -> usize,
) -> Vec<MxHost> {
    records.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut hosts: Vec<MxHost> = Vec::with_capacity(records.len());
    for (preference, name) in records {
        if !hosts.iter().any(|h| h.name == name) {
            hosts.push(MxHost { name, preference });
        }
    }
    let mut start = 0;
    while start < hosts.len() {
        let preference = hosts.get(start).map_or(0, |h| h.preference);
        let end = hosts
            .iter()
            .skip(start)
            .position(|h| h.preference != preference)
            .map_or(hosts.len(), |n| start + n);
        if let Some(group) = hosts.get_mut(start..end) {
            for i in (1..group.len()).rev() {
                let j = random(i + 1) % (i + 1);
                group.swap(i, j);
            }
        }
        start = end;
    }
    hosts.truncate(MAX_MX_HOSTS);
    hosts
}

/// The TLSA lookup of one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaAnswer {
    /// The DNSSEC status of the TLSA answer (`Secure` with an empty set: authenticated
    /// denial; `Bogus` / `Indeterminate`: the lookup failed).
    pub status: DnssecStatus,
    /// The records (empty when none, or when the lookup failed).
    pub set: TlsaSet,
    /// The TLSA base domain (RFC 7672 §2.2.2): the host after a secure CNAME expansion when
    /// records were found there, else the host itself.
    pub base_domain: DnsName,
    /// The lookup error, when it failed or found nothing.
    pub error: Option<LookupError>,
}

/// What discovery found for one MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAnswers {
    /// The host, with its preference.
    pub host: MxHost,
    /// Its addresses (A and AAAA), empty when the lookups failed or found none.
    pub addresses: Vec<IpAddr>,
    /// The DNSSEC status of its address records (the weaker of A and AAAA when both exist).
    pub address_status: DnssecStatus,
    /// The name the address records are owned by, when a CNAME chain led there.
    pub canonical: Option<DnsName>,
    /// The address lookup error, when no address was found.
    pub address_error: Option<LookupError>,
    /// The TLSA lookup, when the plan wanted DANE for this host.
    pub tlsa: Option<TlsaAnswer>,
}

/// The `_smtp._tls.<domain>` lookup (RFC 8460 §3).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsRptLookup {
    /// Exactly one valid record.
    Record(TlsRptRecord),
    /// No usable record: none, several, or an invalid one (`invalid` says which).
    NoRecord {
        /// Why the records found were not usable, when there were some.
        invalid: Option<TxtSelectError>,
    },
    /// The lookup failed (temporary or bogus).
    Failed(LookupError),
}

impl TlsRptLookup {
    /// The lookup from the TXT texts at `_smtp._tls.<domain>`.
    pub fn from_answer(answer: &Lookup<String>) -> Self {
        match answer {
            Ok(a) => match TlsRptRecord::select(a.records.iter().map(String::as_str)) {
                Ok(record) => Self::Record(record),
                Err(TxtSelectError::None) => Self::NoRecord { invalid: None },
                Err(e) => Self::NoRecord { invalid: Some(e) },
            },
            Err(LookupError::NotFound { .. }) => Self::NoRecord { invalid: None },
            Err(e) => Self::Failed(e.clone()),
        }
    }
}

/// Everything discovery found for one destination domain: the ONE owned form of
/// "what discovery found", lent to the precedence overlay by [`with_inputs`](Self::with_inputs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryAnswers {
    /// The destination (recipient) domain.
    pub domain: DnsName,
    /// The MX lookup.
    pub mx: MxOutcome,
    /// One entry per host to try, in order.
    pub hosts: Vec<HostAnswers>,
    /// The MTA-STS lookup (`None`: not looked up).
    pub sts: Option<StsLookup>,
    /// The TLS-RPT record lookup (`None`: not looked up).
    pub tlsrpt: Option<TlsRptLookup>,
}

impl DiscoveryAnswers {
    /// Answers with only the MX outcome (no host looked up yet).
    pub fn new(domain: DnsName, mx: MxOutcome) -> Self {
        Self {
            domain,
            mx,
            hosts: Vec::new(),
            sts: None,
            tlsrpt: None,
        }
    }

    /// The destination these answers describe: the domain with its hosts in order.
    pub fn destination(&self) -> Result<Destination, DestinationError> {
        Destination::domain(
            self.domain.as_str(),
            self.hosts.iter().map(|h| h.host.name.as_str()),
        )
    }

    /// Lends the answers to `f` as [`PrecedenceInputs`] for a message with `message` flags:
    /// the MX status (for the implicit MX, the status of the domain's own address records,
    /// RFC 7672 §2.2.1), the MTA-STS lookup, and one [`HostTlsa`] per host whose TLSA was
    /// looked up.
    pub fn with_inputs<R>(
        &self,
        message: MessageTls,
        f: impl FnOnce(&PrecedenceInputs<'_>) -> R,
    ) -> R {
        let dane: Vec<HostTlsa<'_>> = self
            .hosts
            .iter()
            .filter_map(|h| {
                let tlsa = h.tlsa.as_ref()?;
                Some(HostTlsa {
                    host: &h.host.name,
                    address_status: h.address_status,
                    tlsa_status: tlsa.status,
                    tlsa: &tlsa.set,
                    tlsa_base_domain: &tlsa.base_domain,
                })
            })
            .collect();
        let mx_status = match &self.mx {
            MxOutcome::Implicit { .. } => self
                .hosts
                .first()
                .map_or(DnssecStatus::Indeterminate, |h| h.address_status),
            other => other.status(),
        };
        let inputs = PrecedenceInputs {
            message,
            mx_status,
            sts: self.sts.as_ref(),
            dane: &dane,
        };
        f(&inputs)
    }

    /// The precedence decision for `plan` (planned for [`destination`](Self::destination))
    /// under these answers.
    pub fn decide(&self, plan: Plan, message: MessageTls) -> Decision {
        self.with_inputs(message, |inputs| precedence::apply(plan, inputs))
    }
}

impl fmt::Display for DiscoveryAnswers {
    /// One line per lookup: MX, each host's addresses and TLSA, MTA-STS, TLS-RPT.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "discovery for {}:", self.domain)?;
        writeln!(f, "  {}", self.mx)?;
        for h in &self.hosts {
            write!(
                f,
                "  host {} (preference {}): addresses ({})",
                h.host.name,
                h.host.preference,
                status_word(h.address_status)
            )?;
            for a in &h.addresses {
                write!(f, " {a}")?;
            }
            if let Some(e) = &h.address_error {
                write!(f, " [{e}]")?;
            }
            writeln!(f)?;
            if let Some(t) = &h.tlsa {
                write!(
                    f,
                    "    TLSA at _25._tcp.{} ({}):",
                    t.base_domain,
                    status_word(t.status)
                )?;
                for r in t.set.usable() {
                    write!(f, " [{r}]")?;
                }
                for u in t.set.unusable() {
                    write!(f, " [unusable {}: {}]", u.presented, u.reason)?;
                }
                if let Some(e) = &t.error {
                    write!(f, " [{e}]")?;
                }
                writeln!(f)?;
            }
        }
        match &self.sts {
            None => writeln!(f, "  MTA-STS: not looked up")?,
            Some(StsLookup::Policy {
                policy, from_cache, ..
            }) => writeln!(
                f,
                "  MTA-STS: mode {} ({})",
                policy.mode(),
                if *from_cache { "cached" } else { "fetched" }
            )?,
            Some(StsLookup::NoPolicy {
                fetch_error: Some(e),
            }) => writeln!(f, "  MTA-STS: no policy (fetch failed: {e})")?,
            Some(StsLookup::NoPolicy { .. }) => writeln!(f, "  MTA-STS: no policy")?,
            Some(StsLookup::TemporaryFailure) => {
                writeln!(f, "  MTA-STS: TXT lookup failed temporarily")?
            }
        }
        match &self.tlsrpt {
            None => writeln!(f, "  TLS-RPT: not looked up"),
            Some(TlsRptLookup::Record(r)) => {
                let n = r.rua.len();
                writeln!(
                    f,
                    "  TLS-RPT: {n} destination{}",
                    if n == 1 { "" } else { "s" }
                )
            }
            Some(TlsRptLookup::NoRecord { invalid: Some(e) }) => {
                writeln!(f, "  TLS-RPT: no usable record ({e})")
            }
            Some(TlsRptLookup::NoRecord { .. }) => writeln!(f, "  TLS-RPT: no record"),
            Some(TlsRptLookup::Failed(e)) => writeln!(f, "  TLS-RPT: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    fn mx(records: &[(u16, Option<&str>)], status: DnssecStatus) -> Lookup<MxRecord> {
        Ok(DnsAnswer {
            records: records
                .iter()
                .map(|(p, e)| MxRecord {
                    preference: *p,
                    exchange: e.map(name),
                })
                .collect(),
            status,
            canonical: None,
        })
    }

    fn names(hosts: &[MxHost]) -> Vec<&str> {
        hosts.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn mx_hosts_go_in_preference_order() {
        let answer = mx(
            &[
                (20, Some("b.example")),
                (10, Some("a.example")),
                (30, Some("c.example")),
            ],
            DnssecStatus::Secure,
        );
        let outcome = MxOutcome::from_answer(answer, &mut |_| 0);
        match &outcome {
            MxOutcome::Hosts { hosts, status } => {
                assert_eq!(names(hosts), ["a.example", "b.example", "c.example"]);
                assert_eq!(*status, DnssecStatus::Secure);
            }
            other => panic!("{other}"),
        }
        assert_eq!(outcome.failure(), None);
    }

    #[test]
    fn equal_preferences_are_shuffled_by_the_injected_source_only() {
        let records = vec![
            (10, name("a.example")),
            (10, name("b.example")),
            (10, name("c.example")),
            (5, name("first.example")),
            (50, name("last.example")),
        ];
        // random always 0: Fisher-Yates swaps i with 0 for i = 2, 1: [a,b,c] -> [c,b,a] -> [b,c,a].
        let hosts = order_mx(records.clone(), &mut |_| 0);
        assert_eq!(
            names(&hosts),
            [
                "first.example",
                "b.example",
                "c.example",
                "a.example",
                "last.example"
            ]
        );
        // random = n-1: every swap is with itself: sorted order stays.
        let hosts = order_mx(records.clone(), &mut |n| n - 1);
        assert_eq!(
            names(&hosts),
            [
                "first.example",
                "a.example",
                "b.example",
                "c.example",
                "last.example"
            ]
        );
        // A hostile source (out of range) cannot break the order across preferences.
        let hosts = order_mx(records, &mut |_| usize::MAX);
        assert_eq!(hosts.first().unwrap().name.as_str(), "first.example");
        assert_eq!(hosts.last().unwrap().name.as_str(), "last.example");
        // Every order of the equal group is reachable.
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..6 {
            let mut k = seed;
            let hosts = order_mx(
                vec![(1, name("a.x")), (1, name("b.x")), (1, name("c.x"))],
                &mut |n| {
                    let r = k % n;
                    k /= n;
                    r
                },
            );
            seen.insert(names(&hosts).join(","));
        }
        assert_eq!(seen.len(), 6);
    }

    #[test]
    fn duplicates_keep_their_best_preference_and_hosts_are_capped() {
        let mut records = vec![(20, name("a.example")), (10, name("a.example"))];
        for i in 0..40 {
            records.push((30, name(&format!("h{i}.example"))));
        }
        let hosts = order_mx(records, &mut |_| 0);
        assert_eq!(hosts.len(), MAX_MX_HOSTS);
        assert_eq!(hosts.first().unwrap().preference, 10);
        assert_eq!(
            hosts
                .iter()
                .filter(|h| h.name.as_str() == "a.example")
                .count(),
            1
        );
    }

    #[test]
    fn null_mx_is_a_permanent_failure() {
        // RFC 7505 §3: "example.com. IN MX 0 ."
        let outcome = MxOutcome::from_answer(mx(&[(0, None)], DnssecStatus::Insecure), &mut |_| 0);
        assert!(matches!(outcome, MxOutcome::NullMx { .. }));
        let status = outcome.failure().unwrap();
        assert!(status.is_permanent());
        assert_eq!(
            status.to_string(),
            "556 5.1.10 recipient domain accepts no mail (null MX, RFC 7505)"
        );
        assert!(outcome.hosts(&name("example.com")).is_empty());
        // A null MX beside real hosts is ignored.
        let mixed = MxOutcome::from_answer(
            mx(
                &[(0, None), (10, Some("mx.example.com"))],
                DnssecStatus::Insecure,
            ),
            &mut |_| 0,
        );
        assert_eq!(
            names(&mixed.hosts(&name("example.com"))),
            ["mx.example.com"]
        );
    }

    #[test]
    fn no_mx_is_the_implicit_mx_and_nxdomain_is_permanent() {
        let nodata = Err(LookupError::NotFound {
            nxdomain: false,
            status: DnssecStatus::Secure,
        });
        let outcome = MxOutcome::from_answer(nodata, &mut |_| 0);
        assert_eq!(
            outcome,
            MxOutcome::Implicit {
                status: DnssecStatus::Secure
            }
        );
        assert_eq!(names(&outcome.hosts(&name("example.org"))), ["example.org"]);
        assert_eq!(outcome.failure(), None);

        let nx = Err(LookupError::NotFound {
            nxdomain: true,
            status: DnssecStatus::Insecure,
        });
        let outcome = MxOutcome::from_answer(nx, &mut |_| 0);
        assert!(outcome.failure().unwrap().is_permanent());
        assert!(outcome.hosts(&name("example.org")).is_empty());
    }

    #[test]
    fn temporary_and_bogus_mx_defer_and_keep_their_status() {
        for (error, status) in [
            (
                LookupError::Temporary {
                    detail: "SERVFAIL".into(),
                },
                DnssecStatus::Indeterminate,
            ),
            (
                LookupError::Bogus {
                    detail: "expired".into(),
                },
                DnssecStatus::Bogus,
            ),
        ] {
            let outcome = MxOutcome::from_answer(Err(error), &mut |_| 0);
            assert_eq!(outcome.status(), status);
            let failure = outcome.failure().unwrap();
            assert!(!failure.is_permanent(), "{failure}");
            assert!(outcome.hosts(&name("example.net")).is_empty());
        }
    }

    #[test]
    fn tlsrpt_lookup_keeps_failures_apart_from_no_record() {
        let texts = |t: &[&str]| -> Lookup<String> {
            Ok(DnsAnswer {
                records: t.iter().map(|s| (*s).to_owned()).collect(),
                status: DnssecStatus::Insecure,
                canonical: None,
            })
        };
        assert!(matches!(
            TlsRptLookup::from_answer(&texts(&["v=TLSRPTv1; rua=mailto:r@example.com"])),
            TlsRptLookup::Record(_)
        ));
        assert_eq!(
            TlsRptLookup::from_answer(&texts(&["v=spf1 -all"])),
            TlsRptLookup::NoRecord { invalid: None }
        );
        assert!(matches!(
            TlsRptLookup::from_answer(&texts(&["v=TLSRPTv1; rua=a", "v=TLSRPTv1; rua=b"])),
            TlsRptLookup::NoRecord {
                invalid: Some(TxtSelectError::Multiple { count: 2 })
            }
        ));
        assert!(matches!(
            TlsRptLookup::from_answer(&Err(LookupError::Temporary {
                detail: "timeout".into()
            })),
            TlsRptLookup::Failed(_)
        ));
    }
}
