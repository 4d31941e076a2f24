//! Compile-fail suite: each case in `ui-tests/fail/` is a misuse of the public API that must not compile,
//! and each case in `ui-tests/pass/` is intended use that must. See `ui-tests/README.md`.
//!
//! Regenerate the expected `.stderr` files with `TRYBUILD=overwrite cargo test --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui-tests/fail/*.rs");
    t.pass("ui-tests/pass/*.rs");
}
