//! Captures `tracing` output at TRACE level into a buffer, for tests that prove what is never logged.
//!
//! One global TRACE subscriber writes each event into the buffer of the thread that emitted it (if that
//! thread is capturing). A scoped subscriber (`with_default`) is not enough: `tracing` caches each call
//! site's interest, and when a test without a subscriber hits a call site first, on another thread, at the
//! moment the scoped one is being set up, the cache can say "never" and the captured log stays empty
//! (CI saw this: 32 of 200 runs of `tests/webhook.rs` with 8 threads). The global subscriber has a narrower
//! window of the same kind while it is installed, which `run` closes by rebuilding the cache afterwards.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Once};

/// A shared buffer that the test subscriber writes to.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static SINK: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// Writes to the current thread's sink, or nowhere.
struct ThreadSink;

impl std::io::Write for ThreadSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        // `try_with`: an event while the thread's locals are torn down goes nowhere.
        let _ = SINK.try_with(|sink| {
            if let Some(Captured(buf)) = sink.borrow().as_ref() {
                buf.lock().unwrap().extend_from_slice(b);
            }
        });
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Clears the thread's sink when `run` ends, even by a panic.
struct Uninstall;

impl Drop for Uninstall {
    fn drop(&mut self) {
        SINK.with(|sink| sink.borrow_mut().take());
    }
}

impl Captured {
    /// Runs `f` with every event this thread emits, at any level, written into the buffer.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        static GLOBAL: Once = Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(|| ThreadSink)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in tests");
        });
        // A call site another thread registered while the subscriber was being installed may have cached
        // "never"; recomputing after the install (on every run, in case one raced the first) clears that.
        tracing::callsite::rebuild_interest_cache();
        SINK.with(|sink| *sink.borrow_mut() = Some(self.clone()));
        let _uninstall = Uninstall;
        f()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
