//! Opaque handles: Rust objects boxed behind C pointers, checked against a registry of live
//! objects so a freed, foreign or wrongly typed pointer is refused instead of dereferenced.

use core::any::TypeId;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use super::result::mailtls_result;

/// A C-visible opaque type and the Rust object behind it.
pub(crate) trait Castable: 'static {
    /// The object a handle points to.
    type Inner: 'static;
}

/// Live handles: address → C type.
fn registry() -> MutexGuard<'static, HashMap<usize, TypeId>> {
    static LIVE: OnceLock<Mutex<HashMap<usize, TypeId>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Boxes `value`, registers it and writes the handle to `out`; nothing is allocated when
/// `out` is NULL (so nothing can leak).
pub(crate) fn give<C: Castable>(out: *mut *mut C, value: C::Inner) -> Result<(), mailtls_result> {
    require_out(out)?;
    write_out(out, new::<C>(value))
}

/// Boxes `value` and registers the pointer.
fn new<C: Castable>(value: C::Inner) -> *mut C {
    let ptr = Box::into_raw(Box::new(value));
    registry().insert(ptr as usize, TypeId::of::<C>());
    ptr.cast()
}

fn check<C: Castable>(ptr: *const C) -> Result<(), mailtls_result> {
    if ptr.is_null() {
        return Err(mailtls_result::NullParameter);
    }
    match registry().get(&(ptr as usize)) {
        Some(kind) if *kind == TypeId::of::<C>() => Ok(()),
        _ => Err(mailtls_result::InvalidHandle),
    }
}

/// The object behind a handle, shared.
pub(crate) fn borrow<'a, C: Castable>(ptr: *const C) -> Result<&'a C::Inner, mailtls_result> {
    check(ptr)?;
    // SAFETY: the registry holds `ptr` as a live `Box<C::Inner>` made by `new::<C>`.
    Ok(unsafe { &*ptr.cast::<C::Inner>() })
}

/// The object behind a handle, exclusive.
pub(crate) fn borrow_mut<'a, C: Castable>(ptr: *mut C) -> Result<&'a mut C::Inner, mailtls_result> {
    check(ptr)?;
    // SAFETY: as in `borrow`; the caller promises one thread at a time per object.
    Ok(unsafe { &mut *ptr.cast::<C::Inner>() })
}

/// Unregisters and drops the object; NULL, foreign and already freed pointers are ignored.
pub(crate) fn free<C: Castable>(ptr: *mut C) {
    if ptr.is_null() {
        return;
    }
    let live = {
        let mut live = registry();
        match live.get(&(ptr as usize)) {
            Some(kind) if *kind == TypeId::of::<C>() => {
                let removed = live.remove(&(ptr as usize)).is_some();
                if live.is_empty() {
                    // Give the table back: a library unloaded with dlclose leaves nothing.
                    *live = HashMap::new();
                }
                removed
            }
            _ => false,
        }
    };
    if live {
        // SAFETY: the pointer came from `Box::into_raw` in `new::<C>` and was still registered;
        // it is now unregistered, so this is the only drop.
        drop(unsafe { Box::from_raw(ptr.cast::<C::Inner>()) });
    }
}

/// Writes `value` through an out-pointer.
pub(crate) fn write_out<T>(out: *mut T, value: T) -> Result<(), mailtls_result> {
    if out.is_null() {
        return Err(mailtls_result::NullParameter);
    }
    // SAFETY: non-NULL, and the caller promises it points to writable storage for a `T`.
    unsafe { out.write(value) };
    Ok(())
}

/// Fails with `NullParameter` when an out-pointer is NULL, before any work is done.
pub(crate) fn require_out<T>(out: *mut T) -> Result<(), mailtls_result> {
    if out.is_null() {
        Err(mailtls_result::NullParameter)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct a_thing {
        _private: [u8; 0],
    }
    impl Castable for a_thing {
        type Inner = String;
    }
    struct other_thing {
        _private: [u8; 0],
    }
    impl Castable for other_thing {
        type Inner = u32;
    }

    #[test]
    fn freed_and_foreign_handles_are_refused() {
        let h = new::<a_thing>("x".to_owned());
        assert_eq!(borrow(h.cast_const()).map(String::as_str), Ok("x"));
        let wrong: *const other_thing = h.cast_const().cast();
        assert_eq!(borrow(wrong).err(), Some(mailtls_result::InvalidHandle));
        free(wrong.cast_mut()); // wrong type: ignored
        assert!(borrow(h.cast_const()).is_ok());
        free(h);
        assert_eq!(
            borrow(h.cast_const()).err(),
            Some(mailtls_result::InvalidHandle)
        );
        free(h); // second free: ignored
        assert_eq!(
            borrow::<a_thing>(core::ptr::null()).err(),
            Some(mailtls_result::NullParameter)
        );
    }
}
