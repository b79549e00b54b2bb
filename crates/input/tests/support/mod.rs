//! A real RTSP server for `input_rtsp.rs`: GStreamer's gst-rtsp-server (Debian's
//! `gir1.2-gst-rtsp-server-1.0`, `gstreamer1.0-plugins-good`, `gstreamer1.0-plugins-bad`,
//! `python3-gi`) run by `rtsp_server.py` on a free loopback port, killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The interpreter with Debian's `python3-gi` (a pyenv `python3` on PATH may lack it).
const PYTHON: &str = "/usr/bin/python3";

/// How a test wants the clip served.
#[derive(Default)]
pub struct Serve<'a> {
    /// `user`, `password`: require them (Basic authentication).
    pub credentials: Option<(&'a str, &'a str)>,
    /// Exit this long after the first client's media is prepared (a server that goes away).
    pub exit_after: Option<Duration>,
}

/// A running server; the process is killed on drop.
pub struct RtspServer {
    child: Child,
    pub port: u16,
}

impl RtspServer {
    /// Serves `clip` (a path) as `codec` (`h264`, `h265`, `vp8`) at
    /// `rtsp://127.0.0.1:PORT/clip`; returns once the server prints that it listens.
    pub fn start(clip: &Path, codec: &str, serve: Serve<'_>) -> RtspServer {
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/rtsp_server.py");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(&script)
            .args([
                "--port",
                &port.to_string(),
                "--codec",
                codec,
                "--lifetime",
                "30",
            ])
            .arg("--clip")
            .arg(clip)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((user, password)) = serve.credentials {
            cmd.args(["--user", user, "--password", password]);
        }
        if let Some(after) = serve.exit_after {
            cmd.args(["--exit-after", &after.as_secs_f64().to_string()]);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {PYTHON} (install python3-gi, gir1.2-gst-rtsp-server-1.0, \
                 gstreamer1.0-plugins-good and -bad): {e}"
            )
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = RtspServer { child, port };
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(line) if line.starts_with("READY") => server,
            other => {
                let status = server.child.try_wait();
                panic!(
                    "the RTSP server did not start ({other:?}, exit {status:?}); it needs \
                     {PYTHON} with python3-gi, gir1.2-gst-rtsp-server-1.0, \
                     gstreamer1.0-plugins-good and gstreamer1.0-plugins-bad"
                );
            }
        }
    }

    /// `rtsp://127.0.0.1:PORT/clip`.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/clip", self.port)
    }

    /// Stops the server process (SIGSTOP): its sockets stay open and nothing more is sent or
    /// answered, as a peer that hangs.
    pub fn freeze(&mut self) {
        let status = Command::new("kill")
            .args(["-STOP", &self.child.id().to_string()])
            .status()
            .expect("run kill -STOP");
        assert!(status.success());
    }

    /// Kills the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
