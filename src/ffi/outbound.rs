//! Outbound configuration and planning: the policy object, Postfix table import, plans and
//! their explanation as text and JSON.

use core::ffi::c_char;

use crate::policy::postfix::PolicyTable;
use crate::policy::{Destination, HostPlan, Level, OutboundPolicy, Plan};

use super::boundary;
use super::handle::{self, require_out, write_out, Castable};
use super::result::mailtls_result;
use super::text::{self, MAILTLS_MAX_TEXT};

/// The most candidate hosts one destination may name.
pub const MAILTLS_MAX_HOSTS: usize = 64;

/// An outbound (and, with connectors, inbound) TLS configuration. Made by
/// [`mailtls_config_new`], freed by [`mailtls_config_free`].
pub struct mailtls_config {
    _private: [u8; 0],
}

/// The last configuration error: message and, when the source says, the position.
#[derive(Clone, Debug, Default)]
pub(crate) struct LastError {
    pub(crate) message: String,
    pub(crate) position: Option<(u32, u32)>,
}

/// What a configuration handle points to.
#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) outbound: OutboundPolicy,
    pub(crate) last_error: Option<LastError>,
}

impl Castable for mailtls_config {
    type Inner = Config;
}

impl Config {
    /// Records an error for the last-error accessors and returns its code.
    pub(crate) fn fail(
        &mut self,
        code: mailtls_result,
        message: String,
        position: Option<(u32, u32)>,
    ) -> mailtls_result {
        self.last_error = Some(LastError { message, position });
        code
    }
}

/// The plan for one destination. Made by [`mailtls_config_plan`], freed by
/// [`mailtls_plan_free`].
pub struct mailtls_plan {
    _private: [u8; 0],
}

impl Castable for mailtls_plan {
    type Inner = Plan;
}

/// The form of an explanation.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mailtls_format {
    /// Lines a person reads.
    Text = 0,
    /// One JSON object.
    Json = 1,
}

/// A configuration with the product defaults: opportunistic TLS (`may`), no table, no
/// connectors.
#[no_mangle]
pub extern "C" fn mailtls_config_new(out_config: *mut *mut mailtls_config) -> mailtls_result {
    boundary::call(|| {
        require_out(out_config)?;
        handle::give::<mailtls_config>(out_config, Config::default())
    })
}

/// Frees a configuration. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_config_free(config: *mut mailtls_config) {
    boundary::value(|| handle::free(config));
}

/// Sets the default outbound level by its Postfix name (`none`, `may`, `encrypt`, `dane`,
/// `dane-only`, `fingerprint`, `verify`, `secure`; case-insensitive).
#[no_mangle]
pub extern "C" fn mailtls_config_set_default_level(
    config: *mut mailtls_config,
    level: *const c_char,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow_mut(config)?;
        let name = text::string(level)?;
        let Some(level) = Level::parse(name) else {
            return Err(config.fail(
                mailtls_result::InvalidArgument,
                format!("unknown level \"{}\"", name.escape_debug()),
                None,
            ));
        };
        config.outbound.default_level = level;
        config.last_error = None;
        Ok(())
    })
}

/// Loads a Postfix `smtp_tls_policy_maps` table from `len` bytes of UTF-8 text (at most
/// `MAILTLS_MAX_TEXT`), replacing any earlier table. On `MAILTLS_RESULT_POLICY_TABLE` the
/// configuration is unchanged and [`mailtls_config_last_error`] says what and where.
#[no_mangle]
pub extern "C" fn mailtls_config_load_postfix_table(
    config: *mut mailtls_config,
    table: *const u8,
    len: usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow_mut(config)?;
        let text = text::text(table, len, MAILTLS_MAX_TEXT)?;
        match PolicyTable::parse(text) {
            Ok(table) => {
                config.outbound.table = Some(table);
                config.last_error = None;
                Ok(())
            }
            Err(error) => Err(config.fail(
                mailtls_result::PolicyTable,
                error.to_string(),
                Some((error.line, error.column)),
            )),
        }
    })
}

/// How many warnings the loaded policy table carries (things mailtls cannot honour as
/// written); 0 without a table.
#[no_mangle]
pub extern "C" fn mailtls_config_warning_count(
    config: *const mailtls_config,
    out_count: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        let count = config
            .outbound
            .table
            .as_ref()
            .map_or(0, |t| t.warnings().len());
        write_out(out_count, count)
    })
}

/// Copies warning `index` (`line L, column C: message`) into `buf`.
#[no_mangle]
pub extern "C" fn mailtls_config_warning(
    config: *const mailtls_config,
    index: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        let warning = config
            .outbound
            .table
            .as_ref()
            .and_then(|t| t.warnings().get(index))
            .ok_or(mailtls_result::InvalidArgument)?;
        text::write_data(&warning.to_string(), buf, len, out_n)
    })
}

/// Copies the message of the last error a call on this configuration returned; it names the
/// line and column when the source has them. `MAILTLS_RESULT_NOT_FOUND` when the last call
/// succeeded.
#[no_mangle]
pub extern "C" fn mailtls_config_last_error(
    config: *const mailtls_config,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        let error = config.last_error.as_ref().ok_or(mailtls_result::NotFound)?;
        text::write_message(&error.message, buf, len, out_n)
    })
}

/// The line and column (1-based) of the last error, when its source has them;
/// `MAILTLS_RESULT_NOT_FOUND` otherwise.
#[no_mangle]
pub extern "C" fn mailtls_config_last_error_position(
    config: *const mailtls_config,
    out_line: *mut u32,
    out_column: *mut u32,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        require_out(out_line)?;
        require_out(out_column)?;
        let (line, column) = config
            .last_error
            .as_ref()
            .and_then(|e| e.position)
            .ok_or(mailtls_result::NotFound)?;
        write_out(out_line, line)?;
        write_out(out_column, column)
    })
}

/// Plans delivery to `next_hop` (Postfix spelling: `example.com`, `example.com:2525`,
/// `[mx.example.com]:587`, `[192.0.2.1]`) with the candidate hosts the caller resolved
/// (`hosts`, `host_count` names in preference order; none for a bracketed next hop, at most
/// `MAILTLS_MAX_HOSTS`).
#[no_mangle]
pub extern "C" fn mailtls_config_plan(
    config: *const mailtls_config,
    next_hop: *const c_char,
    hosts: *const *const c_char,
    host_count: usize,
    out_plan: *mut *mut mailtls_plan,
) -> mailtls_result {
    boundary::call(|| {
        let config = handle::borrow(config)?;
        let next_hop = text::string(next_hop)?;
        let hosts = text::strings(hosts, host_count, MAILTLS_MAX_HOSTS)?;
        require_out(out_plan)?;
        let mut destination =
            Destination::parse(next_hop).map_err(|_| mailtls_result::Destination)?;
        if !hosts.is_empty() {
            destination = destination
                .with_hosts(hosts)
                .map_err(|_| mailtls_result::Destination)?;
        }
        let plan = config.outbound.plan(&destination);
        handle::give::<mailtls_plan>(out_plan, plan)
    })
}

/// Frees a plan. NULL, and a handle already freed, are ignored.
#[no_mangle]
pub extern "C" fn mailtls_plan_free(plan: *mut mailtls_plan) {
    boundary::value(|| handle::free(plan));
}

/// How many candidate hosts the plan has.
#[no_mangle]
pub extern "C" fn mailtls_plan_host_count(
    plan: *const mailtls_plan,
    out_count: *mut usize,
) -> mailtls_result {
    boundary::call(|| write_out(out_count, handle::borrow(plan)?.hosts.len()))
}

/// Whether the plan for host `index` forbids plaintext delivery.
#[no_mangle]
pub extern "C" fn mailtls_plan_host_requires_tls(
    plan: *const mailtls_plan,
    index: usize,
    out_required: *mut bool,
) -> mailtls_result {
    boundary::call(|| {
        let host = host_at(handle::borrow(plan)?, index)?;
        write_out(out_required, host.requirement.requires_tls())
    })
}

/// Copies the explanation of the plan (which source decided, each host's requirement,
/// ladder and failure action, and every rule that fired) in `format` (a `mailtls_format`
/// value) into `buf`. `MAILTLS_RESULT_INSUFFICIENT_SIZE` when it does not fit: see
/// [`mailtls_plan_explain_size`].
#[no_mangle]
pub extern "C" fn mailtls_plan_explain(
    plan: *const mailtls_plan,
    format: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let text = explanation(handle::borrow(plan)?, format)?;
        text::write_data(&text, buf, len, out_n)
    })
}

/// The buffer size (NUL included) [`mailtls_plan_explain`] needs for `format`.
#[no_mangle]
pub extern "C" fn mailtls_plan_explain_size(
    plan: *const mailtls_plan,
    format: u32,
    out_size: *mut usize,
) -> mailtls_result {
    boundary::call(|| text::size_of(&explanation(handle::borrow(plan)?, format)?, out_size))
}

fn host_at(plan: &Plan, index: usize) -> Result<&HostPlan, mailtls_result> {
    plan.hosts.get(index).ok_or(mailtls_result::InvalidArgument)
}

fn explanation(plan: &Plan, format: u32) -> Result<String, mailtls_result> {
    if format == mailtls_format::Text as u32 {
        Ok(plan.to_string())
    } else if format == mailtls_format::Json as u32 {
        Ok(plan_json(plan).to_string())
    } else {
        Err(mailtls_result::InvalidArgument)
    }
}

/// The plan as JSON: the same facts as the text, field by field.
fn plan_json(plan: &Plan) -> serde_json::Value {
    let hosts: Vec<serde_json::Value> = plan
        .hosts
        .iter()
        .map(|host| {
            serde_json::json!({
                "host": host.host.to_string(),
                "port": host.port,
                "level": host.requirement.level().to_string(),
                "requirement": host.requirement.to_string(),
                "requires_tls": host.requirement.requires_tls(),
                "sni": host.sni.as_ref().map(ToString::to_string),
                "protocols": host.protocols.to_string(),
                "ladder": host.ladder().to_string(),
                "floor": host.floor().map(|rung| rung.to_string()),
                "client_certificate": host
                    .client_certificate
                    .as_ref()
                    .map(|c| c.certificate_chain.display().to_string()),
                "connection_reuse": host.connection_reuse,
                "on_failure": host.on_failure.to_string(),
            })
        })
        .collect();
    let trace: Vec<String> = plan.trace.steps().iter().map(ToString::to_string).collect();
    serde_json::json!({
        "destination": plan.destination.to_string(),
        "source": plan.source.to_string(),
        "hosts": hosts,
        "trace": trace,
    })
}
