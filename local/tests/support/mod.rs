//! Runs the built `taskmaster-local` binary as a child process and talks to it over real HTTP.

// Shared by several test crates, each using a part of it.
#![allow(dead_code)]

mod api;
pub mod sockets;
pub mod stores;
mod users;

pub use api::{Answer, Api};
pub use users::{PASSWORD, tokens, unique_name};

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the server may take to print its address, or a failing run to exit.
const STARTUP: Duration = Duration::from_secs(60);

/// What the server prints on stdout once it listens, followed by `http://ADDR`.
const LISTENING: &str = "taskmaster-local listening on ";

/// The server binary with the environment of a fresh machine: no secret, no address or data dir
/// from the environment, whatever the test runner's environment holds.
fn command(args: &[&str], data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskmaster-local"));
    command.args(args).arg("--data-dir").arg(data_dir);
    for name in [
        "TASKMASTER_JWT_SECRET",
        "TASKMASTER_ADDR",
        "TASKMASTER_DATA_DIR",
        "TASKMASTER_DYNAMODB_ENDPOINT",
        "TASKMASTER_ACCESS_TOKEN_TTL",
        "TASKMASTER_REFRESH_TOKEN_TTL",
        "TASKMASTER_SESSION_MAX_AGE",
        "AWS_LAMBDA_FUNCTION_NAME",
    ] {
        command.env_remove(name);
    }
    command
}

/// Collects everything `stream` yields, on a thread, so the child never blocks on a full pipe.
fn drain(mut stream: impl Read + Send + 'static) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            let chunk = String::from_utf8_lossy(&buf[..n]);
            sink.lock().expect("stderr buffer").push_str(&chunk);
        }
    });
    (text, thread)
}

/// A running `taskmaster-local`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    stdout_lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    threads: Vec<JoinHandle<()>>,
}

/// How a stopped server ended.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// Every stdout line it printed after the listening line.
    pub later_stdout: Vec<String>,
    pub stderr: String,
}

impl Server {
    /// Starts the server on a free port over `data_dir` and waits until it listens.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Like [`Self::start`], with more flags (e.g. `--dynamodb-endpoint URL`).
    pub fn start_with(data_dir: &Path, flags: &[&str]) -> Self {
        Self::start_with_env(data_dir, flags, &[])
    }

    /// Like [`Self::start_with`], with these environment variables set for the server.
    pub fn start_with_env(data_dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> Self {
        let args: Vec<&str> = ["--addr", "127.0.0.1:0"]
            .iter()
            .chain(flags)
            .copied()
            .collect();
        let mut child = command(&args, data_dir)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting taskmaster-local");
        let (stderr, stderr_thread) = drain(child.stderr.take().expect("piped stderr"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, stdout_lines) = mpsc::channel();
        let stdout_thread = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child: Some(child),
            base: String::new(),
            stdout_lines,
            stderr,
            threads: vec![stdout_thread, stderr_thread],
        };
        let line = match server.stdout_lines.recv_timeout(STARTUP) {
            Ok(line) => line,
            Err(e) => {
                let stopped = server.stop();
                panic!("no listening line from the server ({e}); it ended with {stopped:#?}");
            }
        };
        let url = line
            .strip_prefix(LISTENING)
            .unwrap_or_else(|| panic!("unexpected first stdout line: {line:?}"));
        let port = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|port| port.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        assert_ne!(port, 0, "the server reports the port it really got");
        server.base = format!("http://127.0.0.1:{port}/api/v1");
        server
    }

    /// The server's `host:port`.
    pub fn addr(&self) -> &str {
        self.base
            .trim_start_matches("http://")
            .trim_end_matches("/api/v1")
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// The server's pid, for signals.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// Interrupts the server as Ctrl-C does and waits for it to finish.
    #[cfg(unix)]
    pub fn interrupt(self) -> Stopped {
        self.signal("INT")
    }

    /// Stops the server as `kill`, systemd or a container runtime does (SIGTERM) and waits for it
    /// to finish.
    #[cfg(unix)]
    pub fn terminate(self) -> Stopped {
        self.signal("TERM")
    }

    #[cfg(unix)]
    fn signal(mut self, signal: &str) -> Stopped {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} failed");
        self.wait(Duration::from_secs(30))
    }

    /// Kills the server (if still running) and reports how it ended.
    pub fn stop(&mut self) -> Stopped {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
        }
        self.wait(Duration::from_secs(30))
    }

    /// Waits up to `limit` for the server to exit, killing it after that.
    pub fn wait(&mut self, limit: Duration) -> Stopped {
        let mut child = self.child.take().expect("a server not yet stopped");
        let status = wait_or_kill(&mut child, limit);
        // Both pipes are at their end once the child is gone: read them to the last byte.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        Stopped {
            status,
            later_stdout: self.stdout_lines.try_iter().collect(),
            stderr: self.stderr.lock().expect("stderr buffer").clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// Waits for `child` to exit; kills it once `limit` has passed.
fn wait_or_kill(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("polling the server") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().expect("reaping the server");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a run that should fail at startup ended.
#[derive(Debug)]
pub struct Failed {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// How long a run that should end by itself may take: an import into DynamoDB Local, with other test
/// binaries running beside it, has taken over a minute.
const EXIT_DEADLINE: Duration = Duration::from_secs(300);

/// Runs the server with `args` over `data_dir`, expecting it to exit by itself (within
/// [`EXIT_DEADLINE`]).
pub fn run_expecting_exit(args: &[&str], data_dir: &Path) -> Failed {
    run_expecting_exit_in(
        &std::env::current_dir().expect("a working directory"),
        args,
        data_dir,
    )
}

/// [`run_expecting_exit`], started in the directory `cwd`.
pub fn run_expecting_exit_in(cwd: &Path, args: &[&str], data_dir: &Path) -> Failed {
    run_to_exit(cwd, args, data_dir, None, &[])
}

/// [`run_expecting_exit`], with `input` on its standard input and `env` in its environment.
pub fn run_with_input(args: &[&str], data_dir: &Path, input: &str, env: &[(&str, &str)]) -> Failed {
    let cwd = std::env::current_dir().expect("a working directory");
    run_to_exit(&cwd, args, data_dir, Some(input), env)
}

fn run_to_exit(
    cwd: &Path,
    args: &[&str],
    data_dir: &Path,
    input: Option<&str>,
    env: &[(&str, &str)],
) -> Failed {
    let mut child = command(args, data_dir)
        .envs(env.iter().copied())
        .current_dir(cwd)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting taskmaster-local");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write;
        // Dropped at the end of this block: the child reads the end of its input.
        stdin
            .write_all(input.as_bytes())
            .expect("writing its input");
    }
    let (stdout, out_thread) = drain(child.stdout.take().expect("piped stdout"));
    let (stderr, err_thread) = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + EXIT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling the server") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = (out_thread.join(), err_thread.join());
            panic!(
                "the server kept running instead of failing; stdout: {}; stderr: {}",
                stdout.lock().expect("stdout"),
                stderr.lock().expect("stderr")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = (out_thread.join(), err_thread.join());
    let stdout = stdout.lock().expect("stdout").clone();
    let stderr = stderr.lock().expect("stderr").clone();
    Failed {
        status,
        stdout,
        stderr,
    }
}
