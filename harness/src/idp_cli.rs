//! `byoid idp serve`: the mock IdPs as a standalone server.
//!
//! With no `--config`, one tenant per flavor (slug = flavor name, role `admin`). With
//! `--config FILE`, the tenants of a TOML file:
//!
//! ```toml
//! [[tenant]]
//! slug = "contoso"
//! flavor = "entra-v2"
//! roles = ["admin"]
//!
//! [[tenant]]
//! slug = "initech"
//! flavor = "okta"
//! own_listener = true          # a host:port of its own
//! quirks = { typ = "absent", jwks_max_age = 300 }
//! ```
//!
//! Keys of a `[[tenant]]`: `slug`, `flavor` (required), `roles`, `audience`, `key_ring`,
//! `own_listener`, `quirks` (the fields of `mock_idp::Quirks`). Unknown keys are errors that
//! name the file, line and key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mock_idp::{Flavor, Quirks, Tenant, TenantSpec};
use serde::Deserialize;

use crate::exit;
use crate::input::line_of;

/// Arguments of `byoid idp serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Tenants from this TOML file (`[[tenant]]` tables) instead of one per flavor.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (loopback only).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Serve HTTPS with a CA made at start; its PEM file's path is printed.
    #[arg(long)]
    pub tls: bool,
    /// Key seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Require `Authorization: Bearer TOKEN` on the admin API. With a `--listen` other than
    /// the default and no token given, one is made at start and printed.
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
}

/// The default `--listen`.
const DEFAULT_LISTEN: &str = "127.0.0.1:8089";

/// 128 random bits as hex, from the kernel's generator.
fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The `--config` file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    tenant: Vec<TenantConfig>,
}

/// One `[[tenant]]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TenantConfig {
    slug: toml::Spanned<String>,
    flavor: Flavor,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    key_ring: Option<String>,
    #[serde(default)]
    own_listener: bool,
    #[serde(default)]
    quirks: Option<toml::Spanned<Quirks>>,
}

/// A tenant to add, with where the config file named it (for error messages).
struct Planned {
    spec: TenantSpec,
    line: Option<usize>,
}

/// A config problem: the message to print after `error: `.
#[derive(Debug)]
struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key a TOML error is about: named in the message (`unknown field`, `missing field`),
/// or the bare key just before `=` ahead of the error's span.
fn field_of(text: &str, e: &toml::de::Error) -> Option<String> {
    let msg = e.message();
    for lead in [
        "unknown field `",
        "missing field `",
        "duplicate key `",
        "duplicate field `",
    ] {
        if let Some(rest) = msg.find(lead).map(|i| &msg[i + lead.len()..]) {
            if let Some(end) = rest.find('`') {
                return Some(rest[..end].to_string());
            }
        }
    }
    let span = e.span()?;
    let start = span.start.min(text.len());
    // A span that is itself a key (followed by `=`).
    let spanned = text.get(span.clone()).unwrap_or("").trim();
    let after = text[span.end.min(text.len())..].trim_start();
    let is_key = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if is_key(spanned) && after.starts_with('=') {
        return Some(spanned.to_string());
    }
    let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let before = text[line_start..start]
        .trim_end()
        .strip_suffix('=')?
        .trim_end();
    let key: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let key: String = key.chars().rev().collect();
    is_key(&key).then_some(key)
}

/// `FILE, line N, field `K`: message` plus the offending line.
fn describe_toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let msg = e.message().trim();
    let field = field_of(text, e)
        .map(|f| format!(", field `{f}`"))
        .unwrap_or_default();
    match e.span() {
        Some(span) => {
            let line = line_of(text, span.start).min(text.lines().count().max(1));
            let snippet = text.lines().nth(line - 1).unwrap_or("").trim();
            ConfigError(format!(
                "{}, line {line}{field}: {msg}\n    | {snippet}",
                path.display()
            ))
        }
        None => ConfigError(format!("{}{field}: {msg}", path.display())),
    }
}

/// Reads and checks a `--config` file.
fn load_config(path: &Path) -> Result<Vec<Planned>, ConfigError> {
    let text = crate::input::read_to_string(path, crate::input::CONFIG_LIMIT)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    let file: ConfigFile =
        toml::from_str(&text).map_err(|e| describe_toml_error(path, &text, &e))?;
    if file.tenant.is_empty() {
        return Err(ConfigError(format!(
            "{}: no `[[tenant]]` tables (each needs `slug` and `flavor`)",
            path.display()
        )));
    }
    let mut out = Vec::new();
    for t in file.tenant {
        let line = line_of(&text, t.slug.span().start);
        let mut spec = TenantSpec::new(t.slug.get_ref().clone(), t.flavor).roles(t.roles);
        if let Some(a) = t.audience {
            spec = spec.audience(a);
        }
        if let Some(r) = t.key_ring {
            spec = spec.key_ring(r);
        }
        if t.own_listener {
            spec = spec.own_listener();
        }
        if let Some(q) = t.quirks {
            let q_line = line_of(&text, q.span().start);
            let q = q.into_inner();
            if let Some(alg) = &q.alg {
                if !Tenant::supported_algs().contains(&alg.as_str()) {
                    return Err(ConfigError(format!(
                        "{}, line {q_line}, field `quirks.alg`: unsupported alg `{alg}` (supported: {})",
                        path.display(),
                        Tenant::supported_algs().join(", ")
                    )));
                }
            }
            spec = spec.quirks(q);
        }
        out.push(Planned {
            spec,
            line: Some(line),
        });
    }
    Ok(out)
}

/// Serves until Ctrl-C (or SIGTERM); returns the exit code.
pub async fn serve(args: ServeArgs) -> i32 {
    let ServeArgs {
        config,
        listen,
        tls,
        seed,
        admin_token,
    } = args;

    if !listen.ip().is_loopback() {
        eprintln!("error: --listen must be a loopback address, got `{listen}`");
        return exit::USAGE;
    }
    let planned = match &config {
        Some(path) => match load_config(path) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::SETUP_ERROR;
            }
        },
        None => Flavor::ALL
            .into_iter()
            .map(|f| Planned {
                spec: TenantSpec::new(f.name(), f).roles(["admin"]),
                line: None,
            })
            .collect(),
    };
    let admin_token = match admin_token {
        Some(t) => Some(t),
        None if listen.to_string() != DEFAULT_LISTEN => match random_token() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: cannot make an admin token: {e}");
                return exit::SETUP_ERROR;
            }
        },
        None => None,
    };
    let mut builder = mock_idp::MockIdp::builder().seed(seed).listen(listen);
    if tls {
        builder = builder.tls();
    }
    if let Some(t) = &admin_token {
        builder = builder.admin_token(t.clone());
    }
    let idp = match builder.start().await {
        Ok(i) => i,
        Err(mock_idp::Error::Bind { addr, source }) => {
            let why = if source.kind() == std::io::ErrorKind::AddrInUse {
                "address in use".to_string()
            } else {
                source.to_string()
            };
            eprintln!("error: cannot listen on {addr}: {why}");
            return exit::SETUP_ERROR;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP_ERROR;
        }
    };
    for p in planned {
        if let Err(e) = idp.add_tenant(p.spec.clone()) {
            let at = match (&config, p.line) {
                (Some(path), Some(line)) => format!(
                    "{}, line {line}, tenant `{}`: ",
                    path.display(),
                    p.spec.slug()
                ),
                _ => String::new(),
            };
            eprintln!("error: {at}{e}");
            return exit::SETUP_ERROR;
        }
    }
    // Listen for Ctrl-C before saying where we are: whoever reads the banner may interrupt
    // right away, and the default action would kill the process without cleaning up.
    let shutdown = Shutdown::install();
    print_banner(&idp);
    if let Some(t) = &admin_token {
        println!("admin API token (send `Authorization: Bearer {t}`): {t}");
    }
    shutdown.wait().await;
    println!("stopping");
    // Dropping the IdP stops every listener and removes the CA file.
    drop(idp);
    exit::OK
}

fn print_banner(idp: &mock_idp::MockIdp) {
    println!(
        "byoid mock IdPs on {} (admin API: {}/_admin/tenants; attacker host: {})",
        idp.uri(),
        idp.uri(),
        idp.attacker().uri()
    );
    let cacert = match idp.ca_pem_path() {
        Some(path) => {
            println!(
                "CA certificate: {} (trust it, e.g. curl --cacert {})",
                path.display(),
                path.display()
            );
            format!("--cacert {} ", path.display())
        }
        None => String::new(),
    };
    println!();
    for t in idp.tenants() {
        let c = &t.clients()[0];
        println!("{} ({})", t.slug(), t.flavor());
        println!("  discovery: {}", t.discovery_url());
        println!("  issuer:    {}", t.issuer());
        println!("  audience:  {}", t.audience());
        println!("  client:    {} / {}", c.id, c.secret);
        let extra = match t.flavor() {
            Flavor::Auth0 => format!("-d audience={}", t.audience()),
            f if f.is_entra() => format!("-d scope={}/.default", t.audience()),
            _ => "-d scope=api.read".to_string(),
        };
        println!(
            "  token:     curl -s {cacert}{} -d grant_type=client_credentials -d client_id={} -d client_secret={} {extra}\n",
            t.token_url(),
            c.id,
            c.secret
        );
    }
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM, listened for from the moment of `install`.
struct Shutdown {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    fn install() -> Shutdown {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = signal(SignalKind::interrupt())
                .ok()
                .zip(signal(SignalKind::terminate()).ok());
            Shutdown { signals }
        }
        #[cfg(not(unix))]
        {
            Shutdown {}
        }
    }

    /// Resolves on the first of the signals.
    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.signals {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let e = toml::from_str::<ConfigFile>(text).unwrap_err();
        describe_toml_error(Path::new("idp.toml"), text, &e).0
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let m = err("[[tenant]]\nslug = \"a\"\nflavor = \"okta\"\nbogus = 1\n");
        assert!(m.starts_with("idp.toml, line 4, field `bogus`"), "{m}");
        let m = err("[[tenant]]\nslug = \"a\"\nflavor = \"okta2\"\n");
        assert!(m.contains("line 3, field `flavor`"), "{m}");
        let m = err("[[tenant]]\nslug = \"a\"\nflavor = \"okta\"\nroles = \"admin\"\n");
        assert!(m.contains("line 4, field `roles`"), "{m}");
        let m = err("[[tenant]]\nslug = \"a\"\nflavor = \"okta\"\nquirks = { typ = \"absent\", nope = true }\n");
        assert!(m.contains("line 4, field `nope`"), "{m}");
        let m = err("[[tenant]]\nslug = \"a\"\n");
        assert!(m.contains("field `flavor`"), "{m}");
    }
}
