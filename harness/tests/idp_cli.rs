//! `byoid idp serve` as a process: config errors, a port in use, a valid config, TLS and a
//! clean shutdown on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn byoid() -> Command {
    Command::new(env!("CARGO_BIN_EXE_byoid"))
}

/// A config file of its own for each use, removed on drop.
struct Config(PathBuf);

impl Config {
    fn write(name: &str, text: &str) -> Config {
        let path =
            std::env::temp_dir().join(format!("byoid-idp-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Config(path)
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl std::ops::Deref for Config {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

/// Runs to completion with a time limit; returns (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn byoid");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("byoid did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `byoid idp serve` whose stdout lines arrive on a channel; killed on drop.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// Lines before this index were already matched past.
    pos: usize,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = byoid()
            .args(["idp", "serve"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn byoid");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            lines,
            seen: Vec::new(),
            pos: 0,
        }
    }

    /// The next stdout line (after the last one matched) containing `needle`, waiting at
    /// most 60 s.
    fn line_with(&mut self, needle: &str) -> String {
        if let Some(i) = (self.pos..self.seen.len()).find(|&i| self.seen[i].contains(needle)) {
            self.pos = i + 1;
            return self.seen[i].clone();
        }
        self.pos = self.seen.len();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    self.pos = self.seen.len();
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with `{needle}` within 60 s; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn url_after(&mut self, label: &str) -> String {
        let line = self.line_with(label);
        line.split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| panic!("no URL in `{line}`"))
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plain HTTP/1.1 GET on loopback without a client library; returns the response text.
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn unknown_key_in_config_names_file_line_and_key() {
    let path = Config::write(
        "unknown-key.toml",
        "[[tenant]]\nslug = \"contoso\"\nflavor = \"entra-v2\"\nroles = [\"admin\"]\ncolour = \"blue\"\n",
    );
    let (code, _, err) = run(byoid()
        .args(["idp", "serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&*path));
    assert_ne!(code, 0);
    assert_eq!(code, byoid::exit::SETUP_ERROR, "{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "names the file: {err}"
    );
    assert!(err.contains("line 5"), "names the line: {err}");
    assert!(err.contains("colour"), "names the key: {err}");

    // An unknown quirk, and an unknown flavor, are reported the same way.
    let path = Config::write("bad-quirk.toml", "[[tenant]]\nslug = \"a\"\nflavor = \"okta\"\n\n[[tenant]]\nslug = \"b\"\nflavor = \"auth0\"\nquirks = { omit_kid = true, kid_please = 1 }\n");
    let (code, _, err) = run(byoid()
        .args(["idp", "serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&*path));
    assert_eq!(code, byoid::exit::SETUP_ERROR);
    assert!(
        err.contains("line 8") && err.contains("kid_please"),
        "{err}"
    );
    let path = Config::write(
        "bad-flavor.toml",
        "[[tenant]]\nslug = \"a\"\nflavor = \"okta2\"\n",
    );
    let (code, _, err) = run(byoid()
        .args(["idp", "serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&*path));
    assert_eq!(code, byoid::exit::SETUP_ERROR);
    assert!(
        err.contains("line 3") && err.contains("flavor") && err.contains("okta2"),
        "{err}"
    );
    // A duplicate slug is caught when the tenant is added, and still located.
    let path = Config::write(
        "dup.toml",
        "[[tenant]]\nslug = \"a\"\nflavor = \"okta\"\n[[tenant]]\nslug = \"a\"\nflavor = \"generic\"\n",
    );
    let (code, _, err) = run(byoid()
        .args(["idp", "serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&*path));
    assert_eq!(code, byoid::exit::SETUP_ERROR);
    assert!(
        err.contains("line 5") && err.contains("already exists"),
        "{err}"
    );
}

#[test]
fn port_in_use_exits_96() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (code, _, err) = run(byoid().args(["idp", "serve", "--listen", &addr.to_string()]));
    assert_eq!(code, byoid::exit::SETUP_ERROR, "{err}");
    assert!(
        err.contains(&format!("error: cannot listen on {addr}: address in use")),
        "{err}"
    );
    drop(taken);
}

#[test]
fn valid_config_serves_its_tenants_and_stops_on_ctrl_c() {
    let path = Config::write(
        "valid.toml",
        "# two tenants\n[[tenant]]\nslug = \"contoso\"\nflavor = \"entra-v2\"\nroles = [\"admin\"]\n\n[[tenant]]\nslug = \"initech\"\nflavor = \"okta\"\nown_listener = true\nquirks = { typ = \"absent\", jwks_max_age = 300 }\n",
    );
    let mut server = Server::start(&[
        "--listen",
        "127.0.0.1:0",
        "--seed",
        "3",
        "--config",
        path.to_str().unwrap(),
    ]);
    let head = server.line_with("byoid mock IdPs on");
    let base = head
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    server.line_with("contoso (entra-v2)");
    let discovery = server.url_after("discovery:");
    assert!(
        discovery.starts_with(&base)
            && discovery.ends_with("/v2.0/.well-known/openid-configuration"),
        "{discovery}"
    );
    let answer = http_get(&discovery);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"jwks_uri\""));
    // The own-listener tenant is on another port, with its quirks.
    server.line_with("initech (okta)");
    let okta = server.url_after("discovery:");
    assert!(!okta.starts_with(&base), "{okta}");
    let answer = http_get(&okta.replace(".well-known/openid-configuration", "v1/keys"));
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("cache-control: public, max-age=300"),
        "{answer}"
    );
    // No other tenants than the config's.
    assert!(!server.seen.iter().any(|l| l.starts_with("generic")));

    interrupt_and_expect_clean_exit(&mut server);
}

#[test]
fn tls_prints_the_ca_path_and_removes_it_on_exit() {
    let mut server = Server::start(&["--listen", "127.0.0.1:0", "--tls"]);
    let head = server.line_with("byoid mock IdPs on");
    assert!(head.contains("https://127.0.0.1:"), "{head}");
    let line = server.line_with("CA certificate:");
    let ca = PathBuf::from(line.split_whitespace().nth(2).unwrap());
    let pem = std::fs::read_to_string(&ca).expect("CA file exists while serving");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let token = server.line_with("  token:");
    assert!(
        token.contains("--cacert") && token.contains("https://"),
        "{token}"
    );
    // Default tenants: one per flavor.
    server.line_with("generic (generic)");
    interrupt_and_expect_clean_exit(&mut server);
    assert!(!ca.exists(), "CA file removed on Ctrl-C");
}

/// Sends SIGINT (Ctrl-C) and expects "stopping" and exit code 0.
fn interrupt_and_expect_clean_exit(server: &mut Server) {
    let pid = server.child.id().to_string();
    let ok = Command::new("kill")
        .args(["-s", "INT", &pid])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -s INT {pid}");
    server.line_with("stopping");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "clean exit");
            return;
        }
        assert!(Instant::now() < deadline, "no exit within 30 s of Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    }
}
