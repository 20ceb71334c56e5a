//! One model replica of the sandbox: an `azmlinfsrv` process on its own port of 127.0.0.1 (its
//! output in a log file), or the built-in scoring server. Ready when its readiness path answers;
//! stopped with SIGTERM, then SIGKILL after a grace period; killed when dropped, so nothing is left
//! running.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::python::Runtime;
use crate::model_server::ModelServer;

/// The path the inference server answers `Healthy` on (its liveness and readiness route).
pub const READINESS_PATH: &str = "/";

enum Running {
    Process {
        child: Child,
        log: PathBuf,
    },
    /// Held to keep it serving (dropping it stops it).
    BuiltIn {
        _server: ModelServer,
    },
}

/// A running replica.
pub struct Replica {
    /// The pod's name.
    pub name: String,
    port: u16,
    readiness: String,
    running: Running,
}

/// A free port of 127.0.0.1 (the OS picks it; the replica binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Replica {
    /// Starts pod `name`'s replica on `port` with `env` (SCORE_DELAY_MS, SCORE_FAILURE_RATE…),
    /// its output in `logs/<name>.log`.
    pub fn start(
        runtime: &Runtime,
        name: &str,
        port: u16,
        env: &[(String, String)],
        logs: &Path,
    ) -> std::io::Result<Self> {
        match runtime {
            Runtime::Inference {
                azmlinfsrv,
                scripts,
            } => {
                let mut command = Command::new(azmlinfsrv);
                command
                    .arg("--entry_script")
                    .arg(scripts.join("score.py"))
                    .args(["--port", &port.to_string()])
                    .env("POD_NAME", name)
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    // The server binds 0.0.0.0; its working directory holds nothing of ours.
                    .current_dir(scripts);
                Self::spawn(name, command, port, READINESS_PATH, logs)
            }
            Runtime::BuiltIn { .. } => Ok(Self {
                name: name.to_string(),
                port,
                readiness: READINESS_PATH.to_string(),
                running: Running::BuiltIn {
                    _server: ModelServer::start_on(name, port),
                },
            }),
        }
    }

    /// Runs `command` as pod `name`'s process, ready when `GET readiness` on `port` answers 200;
    /// its output in `logs/<name>.log`.
    pub fn spawn(
        name: &str,
        mut command: Command,
        port: u16,
        readiness: &str,
        logs: &Path,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(logs)?;
        let log = logs.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        Ok(Self {
            name: name.to_string(),
            port,
            readiness: readiness.to_string(),
            running: Running::Process { child, log },
        })
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether its readiness path answers 200 within half a second.
    pub fn ready(&self) -> bool {
        probe(
            SocketAddr::from(([127, 0, 0, 1], self.port)),
            &self.readiness,
        )
    }

    /// The process's exit, if it has ended (the built-in server never ends by itself).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        match &mut self.running {
            Running::Process { child, .. } => child.try_wait().ok().flatten(),
            Running::BuiltIn { .. } => None,
        }
    }

    /// The last `lines` lines of its log (empty for the built-in server).
    pub fn last_log_lines(&self, lines: usize) -> String {
        let Running::Process { log, .. } = &self.running else {
            return String::new();
        };
        let Ok(mut file) = File::open(log) else {
            return String::new();
        };
        // Only the tail is read: a log can be large.
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(size.saturating_sub(16 * 1024)));
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace`.
    pub fn stop(mut self, grace: Duration) {
        if let Running::Process { child, .. } = &mut self.running {
            let pid = Pid::from_raw(child.id() as i32);
            let _ = kill(pid, Signal::SIGTERM);
            let started = Instant::now();
            while started.elapsed() < grace {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Drop kills what is left.
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Running::Process { child, .. } = &mut self.running
            && child.try_wait().ok().flatten().is_none()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET path` answered 200 within half a second.
fn probe(addr: SocketAddr, path: &str) -> bool {
    use std::io::Write as _;
    let deadline = Duration::from_millis(500);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, deadline) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(deadline));
    let _ = stream.set_write_timeout(Some(deadline));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}
