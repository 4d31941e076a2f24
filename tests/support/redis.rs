//! A real `redis-server` for the tests, on a free 127.0.0.1 port, killed when dropped.
//!
//! The binary is `$TWILIO_SMS_REDIS_SERVER`, or `redis-server` on the `PATH` (Debian's package). Without
//! it a test that needs Redis is skipped with a message on stderr, unless `TWILIO_SMS_REQUIRE_REDIS=1`
//! (set by `.ci/run`), where that fails it. Tests that only need a Redis take the one `.ci/run` started
//! (`TWILIO_SMS_TEST_REDIS_URL`) and otherwise start their own; tests that kill or restart Redis always
//! start their own.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a `redis-server` may take to answer after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn binary() -> String {
    std::env::var("TWILIO_SMS_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

/// Whether a missing `redis-server` must fail the test instead of skipping it.
fn required() -> bool {
    std::env::var("TWILIO_SMS_REQUIRE_REDIS").is_ok_and(|v| v == "1")
}

/// Says why a test is skipped (or fails it where Redis is required); `None` then.
fn unavailable(why: &str) -> Option<RedisServer> {
    assert!(!required(), "TWILIO_SMS_REQUIRE_REDIS=1 but {why}");
    eprintln!("SKIPPED: {why} (apt-get install redis-server, or set TWILIO_SMS_REDIS_SERVER)");
    None
}

/// A free port on 127.0.0.1 (free when this returns; `RedisServer::start` retries if it is taken).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether something accepts connections on `port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// Whether `redis-server` can be run here (skips with a message, or fails under CI, when not).
pub fn available() -> bool {
    match Command::new(binary()).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => true,
        _ => unavailable(&format!("`{}` cannot be run", binary())).is_some(),
    }
}

/// A `redis-server` this test started.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one on a free port, or `None` (after saying why) when `redis-server` cannot be run.
    pub fn start() -> Option<Self> {
        if !available() {
            return None;
        }
        for _ in 0..5 {
            if let Some(server) = Self::start_on(free_port()) {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Starts one on `port` (with persistence to its own folder: a restart keeps what was saved at a
    /// graceful shutdown); `None` when it exits at once (the port was taken).
    pub fn start_on(port: u16) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("twilio-sms-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(binary())
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "3600 1"])
            .args(["--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary()));
        let mut server = Self { child, port, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if server.child.try_wait().unwrap().is_some() {
                return None;
            }
            if ping(port) {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        panic!("redis-server on port {port} did not answer PING within {START_TIMEOUT:?}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL: nothing saved), and waits until the port is closed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        wait_until(|| !listening(self.port), "the killed redis-server's port to close");
    }

    /// Stops it gracefully (SIGTERM: it saves its data first), and waits for it to exit.
    pub fn stop(&mut self) {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + START_TIMEOUT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not exit within {START_TIMEOUT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes it (SIGSTOP: connections stay open, nothing is answered), or thaws it (SIGCONT).
    pub fn freeze(&self, frozen: bool) {
        signal(self.child.id(), if frozen { "STOP" } else { "CONT" });
    }

    /// Starts it again on the same port and folder (after `kill` or `stop`).
    pub fn restart(&mut self) {
        let _ = self.child.try_wait();
        let again = Self::start_on(self.port).expect("redis-server did not start again on its port");
        let mut old = std::mem::replace(self, again);
        // `old` is dead already; keep its folder (the new server uses it).
        old.dir = PathBuf::new();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Only a child not reaped yet: a reaped one's pid may belong to another process by now.
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), "CONT");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
}

/// Waits for `ready`, at most 10 s, failing the test with `what` after that.
pub fn wait_until(mut ready: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + START_TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `PING` over a new connection, answered `+PONG` within a second.
pub fn ping(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) =
        std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// A Redis for tests that only need one: the one `.ci/run` started, or one of their own.
pub enum TestRedis {
    /// `TWILIO_SMS_TEST_REDIS_URL`.
    External(String),
    /// Started by this test.
    Own(RedisServer),
}

impl TestRedis {
    /// The Redis to use, or `None` (after saying why) when there is none.
    pub fn get() -> Option<Self> {
        match std::env::var("TWILIO_SMS_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(Self::External(url)),
            _ => RedisServer::start().map(Self::Own),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Self::External(url) => url.clone(),
            Self::Own(server) => server.url(),
        }
    }
}
