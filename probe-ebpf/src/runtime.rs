//! What every object of this crate needs: the panic handler, the licence, and the check of
//! its names.

/// Checks at build time that each item's identifier is the name `probe_common::names` gives it
/// (the map and program macros take the identifier as the object's name).
macro_rules! named {
    ($($item:ident = $name:expr;)*) => {
        $(const _: () = {
            // Names the item itself, so the check follows it if it is renamed.
            let _ = $item;
            assert!(probe_common::names::same(stringify!($item), $name));
        };)*
    };
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // A plain loop, not `unreachable_unchecked`: that would let LLVM delete a bounds check
    // together with the panic path it guards. The verifier rejects a program in which this
    // loop is reachable, so a missed bounds check fails loudly at load.
    #[allow(clippy::empty_loop)]
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
