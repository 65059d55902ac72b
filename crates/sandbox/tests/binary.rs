//! The real `smartro-sandbox` binary: flags reach it, it logs without colour into a pipe, and SIGTERM (what
//! `docker stop` sends) and SIGINT (Ctrl-C) both stop it gracefully and quickly with exit status 0.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LISTENING: &str = "smartro-sandbox listening on ";

struct Running {
    child: Child,
    addr: SocketAddr,
    /// Everything the process wrote to stdout, once it has exited.
    output: JoinHandle<String>,
}

/// Start the binary on a port the OS picks and return once it has printed its address.
fn spawn(extra_args: &[&str]) -> Running {
    let mut child = match Command::new(env!("CARGO_BIN_EXE_smartro-sandbox"))
        .args(["--bind", "127.0.0.1:0"])
        .args(extra_args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("cannot start smartro-sandbox: {e}"),
    };
    let Some(stdout) = child.stdout.take() else {
        panic!("no stdout pipe")
    };
    // Read stdout on a thread until the process ends: the address line comes through the channel, and the pipe
    // never fills up (which would block the sandbox's logging).
    let (addr_tx, addr_rx) = mpsc::channel();
    let output = std::thread::spawn(move || {
        let mut all = String::new();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            if let Some(rest) = line.strip_prefix(LISTENING) {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = addr_tx.send(addr.to_string());
            }
            all.push_str(&line);
            line.clear();
        }
        all
    });
    let addr = match addr_rx.recv_timeout(Duration::from_secs(20)) {
        Ok(a) => a,
        Err(e) => {
            let _ = child.kill();
            panic!("smartro-sandbox never printed its address: {e}");
        }
    };
    let addr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = child.kill();
            panic!("{addr:?} is not an address: {e}");
        }
    };
    Running {
        child,
        addr,
        output,
    }
}

/// A plain HTTP/1.0 GET: status code and body.
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Send `signal` (e.g. "TERM") and wait up to `within` for the process to exit; its stdout comes back with the
/// exit status.
fn stop_with(
    mut running: Running,
    signal: &str,
    within: Duration,
) -> (std::process::ExitStatus, String) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(running.child.id().to_string())
        .status();
    assert!(
        sent.as_ref().is_ok_and(|s| s.success()),
        "kill -{signal}: {sent:?}"
    );
    let sent_at = Instant::now();
    let status = loop {
        match running.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if sent_at.elapsed() < within => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = running.child.kill();
                let _ = running.child.wait();
                panic!("smartro-sandbox still running {within:?} after SIG{signal}");
            }
            Err(e) => panic!("waiting for smartro-sandbox: {e}"),
        }
    };
    let output = running.output.join().unwrap_or_default();
    (status, output)
}

#[test]
fn sigterm_and_sigint_stop_it_gracefully_with_status_0() {
    for signal in ["TERM", "INT"] {
        let running = spawn(&["--receipt-api-down", "--receipt-delay-ms", "250"]);
        // It answers HTTP, and the fault flags reached the run-time knobs.
        let answered = http_get(running.addr, "/sandbox/faults");
        let (status, body) = match answered {
            Ok(a) => a,
            Err(e) => panic!("GET /sandbox/faults: {e}"),
        };
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, r#"{"receipt_api_down":true,"receipt_delay_ms":250}"#);

        let (status, output) = stop_with(running, signal, Duration::from_secs(3));
        assert_eq!(status.code(), Some(0), "SIG{signal}: {status:?}\n{output}");
        // stdout is a pipe here, not a terminal: plain text, no ANSI colour codes.
        assert!(
            !output.contains('\u{1b}'),
            "colour codes in piped logs:\n{output}"
        );
        assert!(
            output.contains(&format!("signal=\"SIG{signal}\"")) && output.contains("stopped"),
            "SIG{signal} did not take the graceful path:\n{output}"
        );
    }
}

/// `smartro-sandbox healthcheck` (what a container's healthcheck runs) asks the sandbox of the same flags.
#[test]
fn the_healthcheck_subcommand_asks_the_sandbox_itself() {
    let running = spawn(&[]);
    let check = |bind: String| {
        let out = Command::new(env!("CARGO_BIN_EXE_smartro-sandbox"))
            .args(["--bind", &bind, "healthcheck"])
            .output();
        match out {
            Ok(out) => (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ),
            Err(e) => panic!("cannot run the healthcheck: {e}"),
        }
    };
    // An unspecified bind address (as in a container) means this host.
    let (ok, why) = check(format!("0.0.0.0:{}", running.addr.port()));
    assert!(ok, "{why}");
    let (status, _) = stop_with(running, "TERM", Duration::from_secs(3));
    assert!(status.success());
    let Ok(free) = std::net::TcpListener::bind("127.0.0.1:0") else {
        panic!("no free port")
    };
    let port = free.local_addr().map(|a| a.port()).unwrap_or(1);
    drop(free);
    let (ok, why) = check(format!("127.0.0.1:{port}"));
    assert!(!ok);
    assert!(why.starts_with("unhealthy: "), "{why}");
}
