//! `pier keygen`, `pier sign` and `pier verify`: the publisher's side of plugin signatures
//! (the format is in `pier::policy::signature`; pier checks them when `[policy]` asks).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use pier::policy::signature::{self, PublicKey};
use sha2::{Digest, Sha256};

fn digest_of(file: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn signature_file(wasm: &Path) -> std::path::PathBuf {
    wasm.with_extension("wasm.sig")
}

pub fn keygen(out: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let (secret, public) = signature::generate().map_err(anyhow::Error::msg)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                out.display()
            )
        })?;
    file.write_all(secret.as_bytes())?;
    eprintln!(
        "secret key written to {} (keep it private); the public key, for [[policy.publishers]]:",
        out.display()
    );
    println!("{}", public.text());
    Ok(())
}

pub fn sign(wasm: &Path, key: &Path, version: Option<&str>) -> anyhow::Result<()> {
    let secret = std::fs::read_to_string(key)
        .with_context(|| format!("cannot read the secret key {}", key.display()))?;
    let digest = digest_of(wasm)?;
    let (text, public) = signature::sign(&secret, &digest, version).map_err(anyhow::Error::msg)?;
    let out = signature_file(wasm);
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    let vouched = version.map_or(String::new(), |v| format!(" as version {v}"));
    eprintln!(
        "signed {} (sha256 {digest}){vouched} with {}: ship {} beside it",
        wasm.display(),
        public.text(),
        out.display()
    );
    Ok(())
}

pub fn verify(wasm: &Path, expected: Option<&str>) -> anyhow::Result<()> {
    let expected = expected
        .map(PublicKey::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let sig_path = signature_file(wasm);
    let text = std::fs::read_to_string(&sig_path).with_context(|| {
        format!(
            "{} is not signed: no {}",
            wasm.display(),
            sig_path.display()
        )
    })?;
    let digest = digest_of(wasm)?;
    let signer = signature::verify(&text, &digest)
        .map_err(|e| anyhow::anyhow!("{}: {e}", wasm.display()))?;
    if let Some(want) = expected
        && want != signer.key
    {
        anyhow::bail!(
            "{} is signed by {}, not by {}",
            wasm.display(),
            signer.key.text(),
            want.text()
        );
    }
    let version = signer
        .version
        .as_ref()
        .map_or(String::new(), |v| format!(", version {v}"));
    println!(
        "{}: good signature by {} (sha256 {digest}{version})",
        wasm.display(),
        signer.key.text()
    );
    Ok(())
}
