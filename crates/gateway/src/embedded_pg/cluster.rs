//! The cluster on disk: where the server binaries are, which OS user runs them, initdb and its template cache, and
//! everything a data directory needs before the server starts.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use super::access::{secure_socket_dir, write_pg_hba, MAX_SOCKET_DIR_LEN};
use super::{
    io_err, EmbeddedOptions, EmbeddedPgError, CLUSTER_DIR, LOG_FILE, SOCKET_DIR, SUPERUSER,
};

/// The directory holding `initdb` and `postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub dir: PathBuf,
}

impl PgBinaries {
    /// `$PG_BIN_DIR`, else the first `$PATH` entry holding both binaries, else `/usr/lib/postgresql/*/bin`
    /// (newest version first), else `/usr/local/pgsql/bin`.
    pub fn locate() -> Result<PgBinaries, EmbeddedPgError> {
        locate_in(
            std::env::var_os("PG_BIN_DIR"),
            std::env::var_os("PATH"),
            Path::new("/usr/lib/postgresql"),
        )
    }

    pub fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    pub fn postgres(&self) -> PathBuf {
        self.dir.join("postgres")
    }

    /// The server version, e.g. `15.18`, from `postgres --version`.
    pub fn version(&self) -> Result<String, EmbeddedPgError> {
        let postgres = self.postgres();
        let output = Command::new(&postgres)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("running", &postgres))?;
        let text = String::from_utf8_lossy(&output.stdout);
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        text.split_whitespace()
            .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
            .map(|word| {
                word.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .to_string()
            })
            .ok_or_else(|| EmbeddedPgError::Io {
                action: "reading the version printed by",
                path: postgres.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, text.trim().to_string()),
            })
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "postgres"].iter().all(|name| {
        fs::metadata(dir.join(name))
            .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

pub(super) fn locate_in(
    pg_bin_dir: Option<OsString>,
    path: Option<OsString>,
    versioned_root: &Path,
) -> Result<PgBinaries, EmbeddedPgError> {
    if let Some(dir) = pg_bin_dir.filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_binaries(&dir) {
            Ok(PgBinaries { dir })
        } else {
            Err(EmbeddedPgError::BadBinDir(dir))
        };
    }
    let mut candidates: Vec<PathBuf> = path
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir(versioned_root)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((major, entry.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    candidates
        .into_iter()
        .find(|dir| has_server_binaries(dir))
        .map(|dir| PgBinaries { dir })
        .ok_or(EmbeddedPgError::NotInstalled)
}

/// The OS user the server runs as when we are root.
#[derive(Debug, Clone)]
pub(super) struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

fn run_as() -> Result<Option<RunAs>, EmbeddedPgError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    lookup_user("postgres")
        .map(Some)
        .ok_or(EmbeddedPgError::NoPostgresUser)
}

fn lookup_user(name: &str) -> Option<RunAs> {
    let c_name = CString::new(name).ok()?;
    let mut buf_len = 4096;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: a zeroed passwd is a valid out-parameter; every pointer passed lives across the call and
        // the strings it returns point into `buf`, which we read before it is dropped.
        unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            );
            if rc == libc::ERANGE && buf_len < 1 << 20 {
                buf_len *= 4;
                continue;
            }
            if rc != 0 || result.is_null() {
                return None;
            }
            let home = if pwd.pw_dir.is_null() {
                PathBuf::from("/")
            } else {
                PathBuf::from(OsStr::new(
                    CStr::from_ptr(pwd.pw_dir).to_string_lossy().as_ref(),
                ))
            };
            return Some(RunAs {
                name: name.to_string(),
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
                home,
            });
        }
    }
}

pub(super) fn command(program: &Path, run_as: Option<&RunAs>) -> Command {
    let mut cmd = Command::new(program);
    // English messages: startup errors are recognised by their text.
    cmd.env("LC_ALL", "C")
        .env("LC_MESSAGES", "C")
        .env_remove("PGDATA");
    if let Some(user) = run_as {
        cmd.uid(user.uid)
            .gid(user.gid)
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    cmd
}

pub(super) fn chown_to(path: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedPgError> {
    if let Some(user) = run_as {
        std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
            .map_err(io_err("changing the owner of", path))?;
    }
    Ok(())
}

/// Creates `dir` (mode 0700) owned by the server's OS user.
pub(super) fn private_dir(dir: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedPgError> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(io_err("creating", dir))?;
    chown_to(dir, run_as)
}

fn remove_if_exists(path: &Path) -> Result<(), EmbeddedPgError> {
    match fs::remove_dir_all(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(io_err("removing", path)(err)),
        _ => Ok(()),
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Runs initdb into the empty or missing directory `pg_dir`.
fn initdb(
    bins: &PgBinaries,
    pg_dir: &Path,
    fsync: bool,
    run_as: Option<&RunAs>,
) -> Result<(), EmbeddedPgError> {
    if !pg_dir.exists() {
        private_dir(pg_dir, run_as)?;
    }
    let mut cmd = command(&bins.initdb(), run_as);
    cmd.arg("-D")
        .arg(pg_dir)
        // No TCP entry may ever trust; pg_hba.conf is rewritten before every start anyway (see PG_HBA_CONF).
        .args([
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=reject",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .current_dir(pg_dir)
        .stdin(Stdio::null());
    if !fsync {
        cmd.arg("--no-sync");
    }
    let output = cmd.output().map_err(io_err("running initdb for", pg_dir))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(EmbeddedPgError::InitDb {
        path: pg_dir.to_path_buf(),
        status: output.status.to_string(),
        output: tail_lines(&text, 20),
    })
}

/// Copies a cluster directory, keeping permission bits and giving everything to the server's OS user.
fn copy_cluster(from: &Path, to: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedPgError> {
    let meta = fs::symlink_metadata(from).map_err(io_err("reading", from))?;
    if meta.is_dir() {
        fs::DirBuilder::new()
            .mode(meta.permissions().mode() & 0o7777)
            .create(to)
            .map_err(io_err("creating", to))?;
        for entry in fs::read_dir(from).map_err(io_err("listing", from))? {
            let entry = entry.map_err(io_err("listing", from))?;
            copy_cluster(&entry.path(), &to.join(entry.file_name()), run_as)?;
        }
    } else if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(io_err("reading", from))?;
        std::os::unix::fs::symlink(target, to).map_err(io_err("creating", to))?;
    } else {
        fs::copy(from, to).map_err(io_err("copying to", to))?;
    }
    chown_to(to, run_as)
}

/// The cached pristine cluster for these binaries, created (atomically: initdb elsewhere, then rename) if missing.
fn template_cluster(
    bins: &PgBinaries,
    cache: &Path,
    run_as: Option<&RunAs>,
) -> Result<PathBuf, EmbeddedPgError> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let template = cache.join(format!(
        "smartro-gateway-pg-template-v2-{}-uid{euid}",
        bins.version()?
    ));
    if template.join("PG_VERSION").is_file() {
        return Ok(template);
    }
    fs::create_dir_all(cache).map_err(io_err("creating", cache))?;
    let staging = cache.join(format!(".smartro-gateway-pg-template-{}", unique_suffix()));
    initdb(bins, &staging, false, run_as)?;
    if let Err(err) = fs::rename(&staging, &template) {
        // Another process won the race; its template is as good as ours.
        let _ = fs::remove_dir_all(&staging);
        if !template.join("PG_VERSION").is_file() {
            return Err(io_err("creating", &template)(err));
        }
    }
    Ok(template)
}

/// Makes sure `<data_dir>/pg` holds a cluster; a crash half-way leaves only a staging directory behind.
fn ensure_cluster(
    bins: &PgBinaries,
    opts: &EmbeddedOptions,
    data_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<PathBuf, EmbeddedPgError> {
    let pg_dir = data_dir.join(CLUSTER_DIR);
    if pg_dir.exists() {
        if !pg_dir.join("PG_VERSION").is_file() {
            return Err(EmbeddedPgError::NotACluster(pg_dir));
        }
        // The owner may differ after a restore from backup; postgres insists on owning its data dir.
        chown_to(&pg_dir, run_as)?;
        return Ok(pg_dir);
    }
    let staging = data_dir.join(format!("{CLUSTER_DIR}.staging"));
    remove_if_exists(&staging)?;
    match &opts.template_cache {
        Some(cache) => {
            let template = template_cluster(bins, cache, run_as)?;
            copy_cluster(&template, &staging, run_as)?;
        }
        None => initdb(bins, &staging, opts.fsync, run_as)?,
    }
    fs::rename(&staging, &pg_dir).map_err(io_err("creating", &pg_dir))?;
    Ok(pg_dir)
}

pub(super) fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub(super) struct Prepared {
    pub(super) bins: PgBinaries,
    pub(super) run_as: Option<RunAs>,
    pub(super) data_dir: PathBuf,
    pub(super) cluster_dir: PathBuf,
    pub(super) socket_dir: PathBuf,
    pub(super) log_path: PathBuf,
}

pub(super) fn prepare(opts: &EmbeddedOptions) -> Result<Prepared, EmbeddedPgError> {
    let bins = PgBinaries::locate()?;
    let run_as = run_as()?;
    fs::create_dir_all(&opts.data_dir).map_err(io_err("creating", &opts.data_dir))?;
    let data_dir = fs::canonicalize(&opts.data_dir).map_err(io_err("resolving", &opts.data_dir))?;
    if let Some(user) = &run_as {
        // Probe with the real credentials: spawning fails if the server's user cannot enter the directory.
        command(&bins.postgres(), Some(user))
            .arg("--version")
            .current_dir(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|source| EmbeddedPgError::Unreachable {
                path: data_dir.clone(),
                user: user.name.clone(),
                source,
            })?;
    }
    let socket_dir = data_dir.join(SOCKET_DIR);
    // The socket is the only way in: without one the server would be unreachable.
    if socket_dir.as_os_str().len() > MAX_SOCKET_DIR_LEN {
        return Err(EmbeddedPgError::SocketPathTooLong(socket_dir));
    }
    let cluster_dir = ensure_cluster(&bins, opts, &data_dir, run_as.as_ref())?;
    secure_socket_dir(&socket_dir, run_as.as_ref())?;
    write_pg_hba(&cluster_dir, run_as.as_ref())?;
    let log_path = data_dir.join(LOG_FILE);
    Ok(Prepared {
        bins,
        run_as,
        data_dir,
        cluster_dir,
        socket_dir,
        log_path,
    })
}
