//! The C functions that describe a result code: its message, and whether it is one at all.
//!
//! They sit above `result`, `boundary` and `text`, which they use; `result` itself uses none
//! of them.

use core::ffi::c_char;

use super::boundary;
use super::result::mailtls_result;
use super::text;

/// Copies the description of `result` (any integer: unknown values get a message too) into
/// `buf` (`len` bytes), NUL-terminated and truncated at a character boundary if it does not
/// fit; `*out_n` receives the length written without the NUL. Fails only on NULL pointers or
/// `len == 0`.
#[no_mangle]
pub extern "C" fn mailtls_result_message(
    result: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> mailtls_result {
    boundary::call(|| {
        let message = match mailtls_result::from_raw(result) {
            Some(known) => known.message(),
            None => "unknown mailtls result code",
        };
        text::write_message(message, buf, len, out_n)
    })
}

/// Whether `result` (any integer) is a known code of this library.
#[no_mangle]
pub extern "C" fn mailtls_result_is_known(result: u32) -> bool {
    boundary::value(|| mailtls_result::from_raw(result).is_some())
}
