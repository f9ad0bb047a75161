//! A `scalepilot run` process as the tests and the scale bench see it: its
//! child, its log (where it says which port it serves), kill -9 on drop; and
//! a plain HTTP GET of that port.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

pub struct Controller {
    pub child: Child,
    pub log: PathBuf,
}

impl Controller {
    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    /// The port of /metrics, from the line the process logs when it binds.
    pub fn port(&self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut text = String::new();
        while Instant::now() < deadline && !text.contains("serving /metrics") {
            std::thread::sleep(Duration::from_millis(50));
            text = std::fs::read_to_string(&self.log).unwrap_or_default();
        }
        text.lines()
            .filter(|l| l.contains("serving /metrics"))
            .find_map(|l| {
                l.split("addr=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .rsplit(':')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no 'serving /metrics' line in the log:\n{text}"))
    }

    /// The tick-to-write latencies (ms) the process logged.
    pub fn latencies(&self) -> Vec<f64> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split("tick_to_write_ms=").nth(1))
            .filter_map(|v| v.split_whitespace().next()?.parse().ok())
            .collect()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A plain HTTP GET on 127.0.0.1 (the controller's port).
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
