//! The panic boundary: no unwinding crosses into C.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::result::mailtls_result;

/// Runs a fallible body; `Err(code)` and panics become result codes.
pub(crate) fn call(body: impl FnOnce() -> Result<(), mailtls_result>) -> mailtls_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => mailtls_result::Ok,
        Ok(Err(code)) => code,
        Err(_) => mailtls_result::Panic,
    }
}

/// Runs an infallible body returning a plain value; a panic yields the type's default
/// (`false`, `0`, nothing).
pub(crate) fn value<T: Default>(body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_codes() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let code = call(|| panic!("boom"));
        let flag = value(|| -> bool { panic!("boom") });
        std::panic::set_hook(hook);
        assert_eq!(code, mailtls_result::Panic);
        assert!(!flag);
        assert_eq!(
            call(|| Err(mailtls_result::TooLong)),
            mailtls_result::TooLong
        );
        assert_eq!(call(|| Ok(())), mailtls_result::Ok);
    }
}
