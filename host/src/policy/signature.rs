//! Publisher signatures of plugins: ed25519, detached, in a format of pier's own.
//!
//! A publisher makes a key pair once (`pier keygen`), signs each build (`pier sign NAME.wasm`,
//! which writes `NAME.wasm.sig` beside it) and publishes the public key; an administrator pins
//! that key in `[policy]`, and pier refuses a plugin whose signature does not verify.
//!
//! - Public key: `ed25519:` and the 32 key bytes in base64.
//! - Secret key file: one line, `pier-ed25519-secret-v1 ` and the PKCS#8 document in base64
//!   (written with mode 0600).
//! - Signature file: one line, `pier-signature-v1 ed25519:KEY SIG`, where SIG (base64) signs
//!   the bytes `pier-plugin-v1\n` followed by the component's SHA-256 in lower-case hex. The
//!   domain prefix keeps a plugin signature from being valid for anything else the key signs.
//! - With a version (`pier sign --version 1.2.0`): `pier-signature-v2 ed25519:KEY VERSION SIG`,
//!   where SIG signs `pier-plugin-v2\n`, the SHA-256 in hex, `\n` and the version. The
//!   version is then the publisher's word, which `[[policy.allowed]] version = ">=1.0"` can
//!   trust; a manifest's `[plugin].version` is only the installer's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

const SECRET_TAG: &str = "pier-ed25519-secret-v1";
const SIGNATURE_TAG: &str = "pier-signature-v1";
const VERSIONED_TAG: &str = "pier-signature-v2";
const KEY_PREFIX: &str = "ed25519:";
const DOMAIN: &[u8] = b"pier-plugin-v1\n";
const VERSIONED_DOMAIN: &[u8] = b"pier-plugin-v2\n";

/// A public key as written in `[policy]` and in signature files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let b64 = text.trim().strip_prefix(KEY_PREFIX).ok_or_else(|| {
            format!("{text:?} is not a pier public key: it starts with \"ed25519:\"")
        })?;
        let bytes = B64
            .decode(b64)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| format!("{text:?}: an ed25519 key is 32 bytes in base64"))?;
        Ok(PublicKey(bytes))
    }

    pub fn text(&self) -> String {
        format!("{KEY_PREFIX}{}", B64.encode(self.0))
    }
}

fn message(digest_hex: &str, version: Option<&str>) -> Vec<u8> {
    let digest = digest_hex.to_ascii_lowercase();
    match version {
        None => [DOMAIN, digest.as_bytes()].concat(),
        Some(v) => [VERSIONED_DOMAIN, digest.as_bytes(), b"\n", v.as_bytes()].concat(),
    }
}

/// What a signature file vouches for: who signed, and the version they signed, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub key: PublicKey,
    pub version: Option<semver::Version>,
}

/// A plugin version as pier reads it (semver: `1.2.0`, `0.3.1-beta.2`).
pub fn parse_version(text: &str) -> Result<semver::Version, String> {
    semver::Version::parse(text.trim())
        .map_err(|e| format!("{text:?} is not a version like 1.2.0: {e}"))
}

/// A new secret key file's text, and its public key.
pub fn generate() -> Result<(String, PublicKey), String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "no randomness for a key".to_string())?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| e.to_string())?;
    let public = public_of(&pair)?;
    Ok((
        format!("{SECRET_TAG} {}\n", B64.encode(pkcs8.as_ref())),
        public,
    ))
}

fn public_of(pair: &Ed25519KeyPair) -> Result<PublicKey, String> {
    <[u8; 32]>::try_from(pair.public_key().as_ref())
        .map(PublicKey)
        .map_err(|_| "an ed25519 public key is 32 bytes".to_string())
}

/// The signature file's text for a component with SHA-256 `digest_hex`, signed with the secret
/// key file's `secret` text (and vouching for `version`, when given); and the signer's public
/// key.
pub fn sign(
    secret: &str,
    digest_hex: &str,
    version: Option<&str>,
) -> Result<(String, PublicKey), String> {
    let version = version
        .map(|v| parse_version(v).map(|v| v.to_string()))
        .transpose()?;
    let b64 = secret
        .trim()
        .strip_prefix(SECRET_TAG)
        .map(str::trim)
        .ok_or_else(|| format!("not a pier secret key file (it starts with {SECRET_TAG})"))?;
    let pkcs8 = B64
        .decode(b64)
        .map_err(|_| "the secret key file is damaged (not base64)".to_string())?;
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|e| format!("the secret key file is damaged: {e}"))?;
    let public = public_of(&pair)?;
    let sig = B64.encode(pair.sign(&message(digest_hex, version.as_deref())).as_ref());
    let text = match &version {
        None => format!("{SIGNATURE_TAG} {} {sig}\n", public.text()),
        Some(v) => format!("{VERSIONED_TAG} {} {v} {sig}\n", public.text()),
    };
    Ok((text, public))
}

/// Who signed a component with SHA-256 `digest_hex` (and which version they vouched for), if
/// the signature file's text verifies; why not otherwise.
pub fn verify(signature: &str, digest_hex: &str) -> Result<Signed, String> {
    let parts: Vec<&str> = signature.split_whitespace().collect();
    let (key, version, sig) = match parts.as_slice() {
        [tag, key, sig] if *tag == SIGNATURE_TAG => (*key, None, *sig),
        [tag, key, version, sig] if *tag == VERSIONED_TAG => (*key, Some(*version), *sig),
        [tag, ..] if *tag != SIGNATURE_TAG && *tag != VERSIONED_TAG => {
            return Err(format!(
                "the signature file starts with {tag:?}, not {SIGNATURE_TAG} or {VERSIONED_TAG}"
            ));
        }
        _ => {
            return Err(format!(
                "the signature file is not one line of \"{SIGNATURE_TAG} ed25519:KEY SIGNATURE\" \
                 or \"{VERSIONED_TAG} ed25519:KEY VERSION SIGNATURE\""
            ));
        }
    };
    let key = PublicKey::parse(key)?;
    let version = version
        .map(parse_version)
        .transpose()
        .map_err(|e| format!("the signature file's version {e}"))?;
    let sig = B64
        .decode(sig)
        .map_err(|_| "the signature is not base64".to_string())?;
    let signed_version = version.as_ref().map(|v| v.to_string());
    UnparsedPublicKey::new(&ED25519, key.0)
        .verify(&message(digest_hex, signed_version.as_deref()), &sig)
        .map_err(|_| {
            format!(
                "the signature by {} does not match this file (it was changed after signing, or the signature is of another build or version)",
                key.text()
            )
        })?;
    Ok(Signed { key, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_for_its_build_only() {
        let (secret, public) = generate().expect("key");
        let digest = "ab".repeat(32);
        let (sig, signer) = sign(&secret, &digest, None).expect("signed");
        assert_eq!(signer, public);
        assert_eq!(verify(&sig, &digest).expect("verifies").key, public);
        assert_eq!(
            verify(&sig, &digest.to_ascii_uppercase())
                .expect("digest case does not matter")
                .key,
            public
        );
        let other = "cd".repeat(32);
        let e = verify(&sig, &other).expect_err("another build");
        assert!(e.contains("does not match"), "{e}");
        assert_eq!(
            PublicKey::parse(&public.text()).expect("round trip"),
            public
        );
        // A signature with its key swapped for another does not verify either.
        let (_, stranger) = generate().expect("key");
        let forged = sig.replace(&public.text(), &stranger.text());
        assert!(verify(&forged, &digest).is_err());
    }

    #[test]
    fn a_versioned_signature_vouches_for_its_version_only() {
        let (secret, public) = generate().expect("key");
        let digest = "ab".repeat(32);
        let (sig, _) = sign(&secret, &digest, Some("1.2.0")).expect("signed");
        assert!(sig.starts_with("pier-signature-v2 "), "{sig}");
        let signed = verify(&sig, &digest).expect("verifies");
        assert_eq!(signed.key, public);
        assert_eq!(signed.version, Some(semver::Version::new(1, 2, 0)));
        // Another version written into the file does not verify.
        let bumped = sig.replace(" 1.2.0 ", " 2.0.0 ");
        let e = verify(&bumped, &digest).expect_err("changed version");
        assert!(e.contains("does not match"), "{e}");
        assert!(sign(&secret, &digest, Some("one")).is_err());
    }

    #[test]
    fn damaged_files_say_what_is_wrong() {
        assert!(verify("hello", &"0".repeat(64)).is_err());
        assert!(PublicKey::parse("ed25519:abc").is_err());
        assert!(
            PublicKey::parse("rsa:AAAA")
                .expect_err("prefix")
                .contains("ed25519:")
        );
        assert!(sign("nope", &"0".repeat(64), None).is_err());
    }
}
