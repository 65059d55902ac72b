//! Schemathesis, a schema-driven fuzzer, against a running gateway: every request it derives from
//! `/openapi.json` (examples, boundary values, random valid and invalid data, and sequences that follow the
//! document's links from `POST /v1/orders`) must get the answer the document promises. The rules no schema can
//! state are in tests/schemathesis/hooks.py, each with its reason; the run must end without a failure.
//!
//! Schemathesis comes from PyPI into a virtualenv under the target directory, made once and reused (`python3`
//! with `venv`; `python3-venv` is installed with apt when it is missing and the test runs as root).

mod harness;
mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// The version the document and the hooks were checked with; a new one may bring new checks.
const SCHEMATHESIS: &str = "4.32.5";
/// Cases per operation and phase: about 2,000 requests, 20 to 40 s on two cores.
const MAX_EXAMPLES: &str = "40";
/// The run's seed: fixed, so that CI sees the same generated data every time and a failure is a change in the
/// gateway or its document, not the luck of the draw. `SCHEMATHESIS_SEED=<n>` replays another run, and
/// `SCHEMATHESIS_SEED=random` draws fresh data (worth doing after changing the document).
const SEED: &str = "20261202";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate sits in the repository")
        .to_path_buf()
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run(command: &mut Command) -> Result<Output, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!("{command:?} failed: {}", describe(&output)))
    }
}

/// `python3 -m venv` fails without ensurepip, which Debian ships apart, in `python3-venv`.
fn make_venv(dir: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    let first = run(Command::new("python3").arg("-m").arg("venv").arg(dir));
    let Err(why) = first else {
        return Ok(());
    };
    eprintln!("python3 -m venv failed ({why}); trying Debian's python3 with python3-venv");
    // Debian's python3 is the one python3-venv completes, whatever python3 comes first on PATH.
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let venv_works = || {
        let probe = std::env::temp_dir().join(format!("venv-probe-{}", std::process::id()));
        let works = Command::new(python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(python)
                .args(["-c", "import ensurepip"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        let _ = std::fs::remove_dir_all(&probe);
        works
    };
    if !venv_works() {
        support::apt_install(&["python3", "python3-venv"], venv_works)?;
    }
    let _ = std::fs::remove_dir_all(dir);
    run(Command::new(python).arg("-m").arg("venv").arg(dir)).map(|_| ())
}

/// The `st` command of a virtualenv with schemathesis, made on first use. Several test processes may get here at
/// once (another checkout's run, say): a lock file lets one install while the others wait, and a marker written
/// last tells a finished installation from one that was interrupted.
fn schemathesis() -> Result<PathBuf, String> {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    let venv = base.join(format!("schemathesis-{SCHEMATHESIS}"));
    let st = venv.join("bin/st");
    let marker = venv.join("installed");
    let lock_path = base.join(format!("schemathesis-{SCHEMATHESIS}.lock"));
    let lock = File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    // SAFETY: flock on a file descriptor this function owns; the lock is released when `lock` is dropped.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "cannot lock {}: {}",
            lock_path.display(),
            std::io::Error::last_os_error()
        ));
    }
    // A virtualenv outlives the python3 that made it only as long as that python3 stays where it was.
    let works = || {
        Command::new(&st)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if marker.exists() && works() {
        return Ok(st);
    }
    let started = Instant::now();
    eprintln!(
        "installing schemathesis {SCHEMATHESIS} from PyPI into {}",
        venv.display()
    );
    make_venv(&venv)?;
    run(Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("schemathesis=={SCHEMATHESIS}")))?;
    std::fs::write(&marker, SCHEMATHESIS)
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    eprintln!("schemathesis installed in {:.0?}", started.elapsed());
    Ok(st)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_as_its_openapi_document_says() {
    let st = schemathesis().unwrap_or_else(|e| panic!("schemathesis is not available: {e}"));
    let stack = harness::start().await;
    let repository = repository();
    let config = repository.join("tests/schemathesis/schemathesis.toml");
    let hooks = repository.join("tests/schemathesis/hooks.py");
    // Reports and anything else schemathesis writes stay out of the sources.
    let workdir = tempfile::tempdir().expect("a working directory");
    let mut command = tokio::process::Command::new(&st);
    command
        .current_dir(workdir.path())
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(stack.url("/openapi.json"))
        .args([
            "--header",
            &format!("Authorization: Bearer {}", harness::API_KEY),
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--no-color"])
        .args(["--request-timeout", "10"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_string());
    if seed != "random" {
        command.args(["--seed", &seed]);
    }
    let started = Instant::now();
    let output = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", st.display()));
    let report = describe(&output);
    assert!(
        output.status.success(),
        "schemathesis found failures (replay with SCHEMATHESIS_SEED=<the Seed above>):\n{report}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Stateful testing followed every link of the document (those of POST /v1/orders to the operations of an
    // order): "API Links: 9 covered / 9 selected / 9 total".
    let links = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("API Links:"))
        .and_then(|l| {
            let numbers: Vec<u32> = l
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            (numbers.len() >= 2).then(|| (numbers[0], numbers[1]))
        });
    assert!(
        matches!(links, Some((covered, selected)) if covered == selected && selected > 0),
        "stateful testing did not follow every link ({links:?} covered/selected):\n{report}"
    );
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.contains(" generated, ") || l.starts_with("Filtered") || l.starts_with("Seed")
        })
        .collect();
    eprintln!(
        "schemathesis passed in {:.0?}: {}",
        started.elapsed(),
        summary.join(" | ")
    );
}
