//! Text across the boundary: NUL-terminated strings and (pointer, length) texts in, copies
//! into caller buffers out.

use core::ffi::{c_char, CStr};

use super::handle::write_out;
use super::result::mailtls_result;

/// The longest NUL-terminated string accepted (names, macro values, addresses), in bytes.
pub const MAILTLS_MAX_STRING: usize = 4096;

/// The longest configuration text accepted (policy table, connectors TOML), in bytes.
pub const MAILTLS_MAX_TEXT: usize = 16 * 1024 * 1024;

/// A required NUL-terminated UTF-8 string of at most [`MAILTLS_MAX_STRING`] bytes.
pub(crate) fn string<'a>(ptr: *const c_char) -> Result<&'a str, mailtls_result> {
    optional_string(ptr)?.ok_or(mailtls_result::NullParameter)
}

/// An optional string: NULL is `None`.
pub(crate) fn optional_string<'a>(ptr: *const c_char) -> Result<Option<&'a str>, mailtls_result> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; strnlen reads at most MAILTLS_MAX_STRING + 1 bytes, stopping at the
    // first NUL, which the caller promises exists within the string's allocation.
    let n = unsafe { libc::strnlen(ptr, MAILTLS_MAX_STRING + 1) };
    if n > MAILTLS_MAX_STRING {
        return Err(mailtls_result::TooLong);
    }
    // SAFETY: a NUL was found at offset n <= MAILTLS_MAX_STRING.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    core::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| mailtls_result::InvalidUtf8)
}

/// A required UTF-8 text given as pointer and length, at most `cap` bytes. `len == 0` with a
/// non-NULL pointer is the empty text.
pub(crate) fn text<'a>(ptr: *const u8, len: usize, cap: usize) -> Result<&'a str, mailtls_result> {
    core::str::from_utf8(bytes(ptr, len, cap)?).map_err(|_| mailtls_result::InvalidUtf8)
}

/// Bytes given as pointer and length, at most `cap` of them.
pub(crate) fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    cap: usize,
) -> Result<&'a [u8], mailtls_result> {
    if ptr.is_null() {
        return Err(mailtls_result::NullParameter);
    }
    if len > cap {
        return Err(mailtls_result::TooLong);
    }
    // SAFETY: non-NULL, len bounded by cap; the caller promises `len` readable bytes.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// An array of `count` NUL-terminated strings, at most `cap` of them. `count == 0` accepts a
/// NULL array.
pub(crate) fn strings<'a>(
    ptr: *const *const c_char,
    count: usize,
    cap: usize,
) -> Result<Vec<&'a str>, mailtls_result> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(mailtls_result::NullParameter);
    }
    if count > cap {
        return Err(mailtls_result::TooLong);
    }
    // SAFETY: non-NULL, count bounded by cap; the caller promises `count` readable pointers.
    let items = unsafe { core::slice::from_raw_parts(ptr, count) };
    items.iter().map(|item| string(*item)).collect()
}

/// Copies data (`text`) into `buf` with a NUL, or fails with `InsufficientSize` writing
/// nothing.
pub(crate) fn write_data(
    text: &str,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> Result<(), mailtls_result> {
    write_bytes_nul(text.as_bytes(), buf, len, out_n)
}

/// Copies a message into `buf`, truncated at a character boundary to fit with its NUL.
pub(crate) fn write_message(
    message: &str,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> Result<(), mailtls_result> {
    if buf.is_null() || out_n.is_null() {
        return Err(mailtls_result::NullParameter);
    }
    if len == 0 {
        return Err(mailtls_result::InsufficientSize);
    }
    let mut end = message.len().min(len - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    write_bytes_nul(
        message.as_bytes().get(..end).unwrap_or_default(),
        buf,
        len,
        out_n,
    )
}

/// The buffer size (NUL included) `text` needs.
pub(crate) fn size_of(text: &str, out_size: *mut usize) -> Result<(), mailtls_result> {
    write_out(out_size, text.len() + 1)
}

/// Copies bytes into `buf` with a NUL after them, or fails with `InsufficientSize`.
pub(crate) fn write_bytes(
    data: &[u8],
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> Result<(), mailtls_result> {
    write_bytes_nul(data, buf, len, out_n)
}

fn write_bytes_nul(
    data: &[u8],
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> Result<(), mailtls_result> {
    if buf.is_null() || out_n.is_null() {
        return Err(mailtls_result::NullParameter);
    }
    if data.len() >= len {
        return Err(mailtls_result::InsufficientSize);
    }
    // SAFETY: the caller promises `len` writable bytes at `buf`; data.len() + 1 <= len.
    unsafe {
        core::ptr::copy_nonoverlapping(data.as_ptr(), buf.cast::<u8>(), data.len());
        buf.add(data.len()).write(0);
    }
    write_out(out_n, data.len())
}

/// Copies raw bytes (no NUL) into `buf`: as many as fit; returns how many.
pub(crate) fn copy_bytes(data: &[u8], buf: *mut u8, len: usize) -> Result<usize, mailtls_result> {
    if buf.is_null() {
        return Err(mailtls_result::NullParameter);
    }
    let n = data.len().min(len);
    // SAFETY: the caller promises `len` writable bytes at `buf`; n <= len.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), buf, n) };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_checked() {
        assert_eq!(string(c"abc".as_ptr()), Ok("abc"));
        assert_eq!(
            string(core::ptr::null()),
            Err(mailtls_result::NullParameter)
        );
        assert_eq!(optional_string(core::ptr::null()), Ok(None));
        let bad = [0xffu8, 0xfe, 0];
        assert_eq!(
            string(bad.as_ptr().cast()),
            Err(mailtls_result::InvalidUtf8)
        );
        let mut long = vec![b'a'; MAILTLS_MAX_STRING + 1];
        long.push(0);
        assert_eq!(string(long.as_ptr().cast()), Err(mailtls_result::TooLong));
        let mut max = vec![b'a'; MAILTLS_MAX_STRING];
        max.push(0);
        assert_eq!(
            string(max.as_ptr().cast()).map(str::len),
            Ok(MAILTLS_MAX_STRING)
        );
        assert_eq!(text(b"xy".as_ptr(), 3, 2), Err(mailtls_result::TooLong));
    }

    #[test]
    fn outputs_fit_or_fail() {
        let mut buf = [0x55 as c_char; 4];
        let mut n = 99usize;
        assert_eq!(
            write_data("abcd", buf.as_mut_ptr(), 4, &mut n),
            Err(mailtls_result::InsufficientSize)
        );
        assert_eq!(n, 99, "out_n is written only on success");
        assert_eq!(write_data("abc", buf.as_mut_ptr(), 4, &mut n), Ok(()));
        assert_eq!((n, buf[3]), (3, 0));
        // "é" is two bytes: truncation keeps whole characters.
        assert_eq!(write_message("aé", buf.as_mut_ptr(), 3, &mut n), Ok(()));
        assert_eq!(n, 1);
        assert_eq!(
            write_message("x", buf.as_mut_ptr(), 0, &mut n),
            Err(mailtls_result::InsufficientSize)
        );
    }
}
