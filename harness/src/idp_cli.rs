//! `byoid idp serve`: the mock IdPs as a standalone server.

use std::net::SocketAddr;

use crate::exit;

/// Arguments of `byoid idp serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub listen: SocketAddr,
    /// Key seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Serves until Ctrl-C; returns the exit code.
pub async fn serve(args: ServeArgs) -> i32 {
    let (listen, seed) = (args.listen, args.seed);

    if !listen.ip().is_loopback() {
        eprintln!("error: --listen must be a loopback address, got `{listen}`");
        return exit::USAGE;
    }
    let mut builder = mock_idp::MockIdp::builder().seed(seed).listen(listen);
    for f in mock_idp::Flavor::ALL {
        builder = builder.tenant(mock_idp::TenantSpec::new(f.name(), f).roles(["admin"]));
    }
    let idp = match builder.start().await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::SETUP_ERROR;
        }
    };
    println!("byoid mock IdPs on {} (admin API: {}/_admin/tenants; attacker host: {})\n", idp.uri(), idp.uri(), idp.attacker().uri());
    for t in idp.tenants() {
        let c = &t.clients()[0];
        println!("{} ({})", t.slug(), t.flavor());
        println!("  discovery: {}", t.discovery_url());
        println!("  issuer:    {}", t.issuer());
        println!("  audience:  {}", t.audience());
        println!("  client:    {} / {}", c.id, c.secret);
        let extra = match t.flavor() {
            mock_idp::Flavor::Auth0 => format!("-d audience={}", t.audience()),
            f if f.is_entra() => format!("-d scope={}/.default", t.audience()),
            _ => "-d scope=api.read".to_string(),
        };
        println!("  token:     curl -s {} -d grant_type=client_credentials -d client_id={} -d client_secret={} {extra}\n", t.token_url(), c.id, c.secret);
    }
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping");
    exit::OK
}

