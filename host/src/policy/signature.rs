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

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

const SECRET_TAG: &str = "pier-ed25519-secret-v1";
const SIGNATURE_TAG: &str = "pier-signature-v1";
const KEY_PREFIX: &str = "ed25519:";
const DOMAIN: &[u8] = b"pier-plugin-v1\n";

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

fn message(digest_hex: &str) -> Vec<u8> {
    [DOMAIN, digest_hex.to_ascii_lowercase().as_bytes()].concat()
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
/// key file's `secret` text; and the signer's public key.
pub fn sign(secret: &str, digest_hex: &str) -> Result<(String, PublicKey), String> {
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
    let sig = pair.sign(&message(digest_hex));
    Ok((
        format!(
            "{SIGNATURE_TAG} {} {}\n",
            public.text(),
            B64.encode(sig.as_ref())
        ),
        public,
    ))
}

/// The key that signed a component with SHA-256 `digest_hex`, if the signature file's text
/// verifies; why not otherwise.
pub fn verify(signature: &str, digest_hex: &str) -> Result<PublicKey, String> {
    let mut parts = signature.split_whitespace();
    let (Some(tag), Some(key), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "the signature file is not one line of \"{SIGNATURE_TAG} ed25519:KEY SIGNATURE\""
        ));
    };
    if tag != SIGNATURE_TAG {
        return Err(format!(
            "the signature file starts with {tag:?}, not {SIGNATURE_TAG}"
        ));
    }
    let key = PublicKey::parse(key)?;
    let sig = B64
        .decode(sig)
        .map_err(|_| "the signature is not base64".to_string())?;
    UnparsedPublicKey::new(&ED25519, key.0)
        .verify(&message(digest_hex), &sig)
        .map_err(|_| {
            format!(
                "the signature by {} does not match this file (it was changed after signing, or the signature is of another build)",
                key.text()
            )
        })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_for_its_build_only() {
        let (secret, public) = generate().expect("key");
        let digest = "ab".repeat(32);
        let (sig, signer) = sign(&secret, &digest).expect("signed");
        assert_eq!(signer, public);
        assert_eq!(verify(&sig, &digest).expect("verifies"), public);
        assert_eq!(
            verify(&sig, &digest.to_ascii_uppercase()).expect("digest case does not matter"),
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
    fn damaged_files_say_what_is_wrong() {
        assert!(verify("hello", &"0".repeat(64)).is_err());
        assert!(PublicKey::parse("ed25519:abc").is_err());
        assert!(
            PublicKey::parse("rsa:AAAA")
                .expect_err("prefix")
                .contains("ed25519:")
        );
        assert!(sign("nope", &"0".repeat(64)).is_err());
    }
}
