//! `byoid-reference`: the reference BYOID validator binary. See the library docs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use byoid_reference::{defect::Defect, manifest::Manifest, Config, DefectSet};
use clap::{CommandFactory, FromArgMatches, Parser};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ABOUT: &str = "The byoid reference BYOID access-token validator (contract byoid-target/2).";

const LONG_ABOUT: &str = "\
The byoid reference BYOID access-token validator (contract byoid-target/2).

Serves GET /healthz, and GET|POST /api/whoami and /api/admin (prefixed by
/{slug} when the manifest's tenant_source is `path`). Validates RFC 9068 JWT
access tokens per tenant and answers per RFC 6750 section 3.

Token transport: `Authorization: Bearer` (scheme case-insensitive, 1+ spaces;
an empty token is 401 invalid_token; other schemes count as no credentials);
a form-body `access_token` on POST with application/x-www-form-urlencoded
(on GET it is 400); the `?access_token=` query method is REFUSED with 400
invalid_request (RFC 6750 2.3, RFC 9700). A token sent by more than one
method, or two Authorization headers, is 400 invalid_request.

Required claims: iss, exp, aud, sub (iat, nbf checked when present). Client id
for allowed_client_ids: the first of the tenant's client_id_claims the token
carries (without them: client_id, azp, cid, appid).

With --defect the service plants one known bug class per defect, turning it
into a known-bad target for the harness.";

/// Command line; every flag also documented in --help.
#[derive(Debug, Parser)]
#[command(name = "byoid-reference", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    /// Path of the byoid-target/2 manifest (JSON).
    #[arg(
        long,
        env = "BYOID_MANIFEST",
        value_name = "PATH",
        required_unless_present = "list_defects"
    )]
    manifest: Option<PathBuf>,
    /// TCP port to listen on.
    #[arg(
        long,
        env = "BYOID_PORT",
        value_name = "N",
        required_unless_present = "list_defects"
    )]
    port: Option<u16>,
    /// Address to bind.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    listen: IpAddr,
    /// Plant a defect (repeatable, or comma-separated); see the list below.
    #[arg(
        long = "defect",
        value_name = "NAME",
        env = "BYOID_DEFECTS",
        value_delimiter = ','
    )]
    defects: Vec<Defect>,
    /// Debug mode: error responses include internal detail in a `detail` member.
    #[arg(long)]
    debug: bool,
    /// Time limit for each discovery or JWKS fetch, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    fetch_timeout_ms: u64,
    /// Minimum gap between JWKS refetches caused by unknown kids, per tenant, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    unknown_kid_cooldown_ms: u64,
    /// Print every defect with its description and exit.
    #[arg(long)]
    list_defects: bool,
}

fn defect_list() -> String {
    let width = Defect::all()
        .iter()
        .map(|d| d.name().len())
        .max()
        .unwrap_or(0);
    Defect::all()
        .iter()
        .map(|d| format!("  {:width$}  {}\n", d.name(), d.description()))
        .collect()
}

fn main() -> ExitCode {
    let after = format!(
        "Defects (--defect NAME, or BYOID_DEFECTS=a,b):\n{}",
        defect_list()
    );
    let matches = Cli::command()
        .after_long_help(after.clone())
        .after_help(after)
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if cli.list_defects {
        print!("{}", defect_list());
        return ExitCode::SUCCESS;
    }
    let (Some(path), Some(port)) = (cli.manifest, cli.port) else {
        eprintln!("byoid-reference: --manifest and --port are required");
        return ExitCode::from(2);
    };
    let manifest = match Manifest::load(&path) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("byoid-reference: invalid manifest: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(ca) = &manifest.ca_bundle {
        if let Err(e) = std::fs::read(ca) {
            eprintln!(
                "byoid-reference: invalid manifest: ca_bundle: cannot read `{}`: {e}",
                ca.display()
            );
            return ExitCode::from(2);
        }
    }
    let mut config = Config::new(manifest);
    config.defects = cli.defects.into_iter().collect::<DefectSet>();
    config.debug = cli.debug;
    config.fetch_timeout = Duration::from_millis(cli.fetch_timeout_ms.max(1));
    config.unknown_kid_cooldown = Duration::from_millis(cli.unknown_kid_cooldown_ms);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("byoid-reference: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let addr = SocketAddr::new(cli.listen, port);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("byoid-reference: cannot bind {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let defects: Vec<&str> = config.defects.iter().map(|d| d.name()).collect();
        eprintln!(
            "byoid-reference: listening on http://{} (defects: {})",
            listener.local_addr().map_or(addr, |a| a),
            if defects.is_empty() {
                "none".to_owned()
            } else {
                defects.join(",")
            }
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tokio::select! {
            r = byoid_reference::serve(listener, config) => match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("byoid-reference: server error: {e}");
                    ExitCode::FAILURE
                }
            },
            () = shutdown => ExitCode::SUCCESS,
        }
    })
}
