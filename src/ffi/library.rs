//! The library as a whole: its version, and the log callback the C adapter reports session
//! events through.
//!
//! The callback is set once per process (a library cannot know who else in the process set
//! it, so a second call is refused rather than silently redirecting the first caller's log).

use core::ffi::{c_char, c_void};
use std::sync::OnceLock;

use super::boundary;
use super::result::mailtls_result;

/// The library's version (`0.1.0`), NUL-terminated and static: never freed, valid for the life
/// of the process.
#[no_mangle]
pub extern "C" fn mailtls_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The crate version, NUL-terminated for C.
const VERSION: &core::ffi::CStr =
    match core::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes())
    {
        Ok(version) => version,
        Err(_) => c"unknown",
    };

/// How much a log line matters. Lower numbers matter more; a callback set with a maximum
/// level receives that level and every lower one.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum mailtls_log_level {
    /// Something failed that an operator should look at (a TLS failure).
    Error = 1,
    /// A session ended badly or refused a command (a refusal, an aborted message).
    Warn = 2,
    /// The milestones of a session (TLS established, a message accepted, the end).
    Info = 3,
    /// Every other event.
    Debug = 4,
}

impl mailtls_log_level {
    const ALL: [Self; 4] = [Self::Error, Self::Warn, Self::Info, Self::Debug];

    fn from_raw(raw: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|l| *l as u32 == raw)
    }
}

/// A log callback: `userdata` as given to [`mailtls_set_log_callback`], the level, and the
/// message (`len` bytes of UTF-8, NUL-terminated, valid only during the call). It may be
/// called from any thread that drives a session, and must not call back into mailtls.
pub type mailtls_log_callback = Option<
    extern "C" fn(
        userdata: *mut c_void,
        level: mailtls_log_level,
        message: *const c_char,
        len: usize,
    ),
>;

/// The callback, its userdata (kept as an address: the library never dereferences it) and
/// the most verbose level it wants.
struct Logger {
    callback: extern "C" fn(*mut c_void, mailtls_log_level, *const c_char, usize),
    userdata: usize,
    max_level: mailtls_log_level,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the log callback for the process, once: `callback` receives every log line of level
/// `max_level` (a `mailtls_log_level` value) or a more important one, with `userdata`.
/// Session events are logged as they are polled (`mailtls_session_poll_event`), with their
/// role, kind and detail as text for people; message contents are never logged.
///
/// Errors: `MAILTLS_RESULT_NULL_PARAMETER` for a NULL callback,
/// `MAILTLS_RESULT_INVALID_ARGUMENT` for an unknown level, `MAILTLS_RESULT_WRONG_STATE` when a
/// callback was set before (the first one stays).
#[no_mangle]
pub extern "C" fn mailtls_set_log_callback(
    callback: mailtls_log_callback,
    userdata: *mut c_void,
    max_level: u32,
) -> mailtls_result {
    boundary::call(|| {
        let callback = callback.ok_or(mailtls_result::NullParameter)?;
        let max_level =
            mailtls_log_level::from_raw(max_level).ok_or(mailtls_result::InvalidArgument)?;
        LOGGER
            .set(Logger {
                callback,
                userdata: userdata as usize,
                max_level,
            })
            .map_err(|_| mailtls_result::WrongState)
    })
}

/// Whether a line of `level` would reach a callback (so its text is worth building).
pub(crate) fn enabled(level: mailtls_log_level) -> bool {
    LOGGER.get().is_some_and(|l| level <= l.max_level)
}

/// Hands one line to the callback, when one wants it. Interior NULs are replaced, so the
/// line is one C string.
pub(crate) fn log(level: mailtls_log_level, message: &str) {
    let Some(logger) = LOGGER.get() else {
        return;
    };
    if level > logger.max_level {
        return;
    }
    let mut line = message.replace('\0', " ").into_bytes();
    let len = line.len();
    line.push(0);
    (logger.callback)(
        logger.userdata as *mut c_void,
        level,
        line.as_ptr().cast(),
        len,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_crate_version() {
        // SAFETY: mailtls_version returns a static NUL-terminated string.
        let version = unsafe { core::ffi::CStr::from_ptr(mailtls_version()) };
        assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn levels_order_by_importance() {
        assert!(mailtls_log_level::Error < mailtls_log_level::Debug);
        assert_eq!(
            mailtls_log_level::from_raw(3),
            Some(mailtls_log_level::Info)
        );
        assert_eq!(mailtls_log_level::from_raw(0), None);
        assert_eq!(
            mailtls_set_log_callback(None, core::ptr::null_mut(), 4),
            mailtls_result::NullParameter
        );
    }
}
