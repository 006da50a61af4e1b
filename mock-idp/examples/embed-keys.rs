//! Writes `keys/seed0-rsa.txt`: the seed-0 RSA keys the crate embeds so that default runs
//! generate none. Run: `cargo run --release -p mock-idp --example embed-keys`.
use base64::Engine;

fn main() -> std::io::Result<()> {
    let mut out = String::from("");
    for label in mock_idp::keys::EMBEDDED_RSA_LABELS {
        let der = mock_idp::keys::generate_seed0_rsa_der(label);
        out.push_str(&format!(
            "{label} {}\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        ));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/seed0-rsa.txt");
    std::fs::write(&path, out)?;
    println!("wrote {}", path.display());
    Ok(())
}
