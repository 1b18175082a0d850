use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::*;

fn issuer(kid: &str, seed: u8) -> Issuer {
    Issuer::new(SigningKey::from_seed(kid, [seed; 32]).unwrap(), "protomesh")
}

const HOUR: Duration = Duration::from_secs(3600);

/// A token issued by a trusted key verifies to its subject, roles and the raw token.
#[test]
fn round_trip() {
    let issuer = issuer("k1", 1);
    let issued = issuer.issue("u42", &["admin", "customer"], HOUR).unwrap();
    let verifier = Verifier::new(vec![issuer.public_key()]).with_issuer("protomesh");
    let principal = verifier.verify(&issued.token).unwrap();
    assert_eq!(principal.subject, "u42");
    assert_eq!(principal.roles, ["admin", "customer"]);
    assert_eq!(principal.token, issued.token);
    let left = issued
        .expires_at
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    assert!((3590..=3600).contains(&left), "{left}");
}

/// Each kind of bad token gets its own error.
#[test]
fn distinguishes_failures() {
    let good = issuer("k1", 1);
    let verifier = Verifier::new(vec![good.public_key()]).with_issuer("protomesh");

    assert_eq!(verifier.verify(""), Err(AuthError::Missing));
    assert!(matches!(
        verifier.verify("not.a.jwt"),
        Err(AuthError::Malformed(_))
    ));
    assert!(matches!(
        verifier.verify(&"x".repeat(MAX_TOKEN_LEN + 1)),
        Err(AuthError::Malformed(_))
    ));

    let past = SystemTime::now() - 2 * HOUR;
    let expired = good.issue_at("u", &["admin"], HOUR, past).unwrap();
    assert_eq!(verifier.verify(&expired.token), Err(AuthError::Expired));

    let stranger = issuer("k9", 9).issue("u", &["admin"], HOUR).unwrap();
    assert_eq!(
        verifier.verify(&stranger.token),
        Err(AuthError::UnknownKey("k9".into()))
    );

    // Same key id, different private key: the signature does not verify.
    let forged = issuer("k1", 2).issue("u", &["admin"], HOUR).unwrap();
    assert_eq!(verifier.verify(&forged.token), Err(AuthError::BadSignature));

    // A tampered payload breaks the signature too.
    let token = good.issue("u", &["customer"], HOUR).unwrap().token;
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(
        String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
            .unwrap()
            .replace("customer", "admin"),
    );
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(verifier.verify(&tampered), Err(AuthError::BadSignature));

    let other_issuer = Issuer::new(SigningKey::from_seed("k1", [1; 32]).unwrap(), "evil")
        .issue("u", &["admin"], HOUR)
        .unwrap();
    assert_eq!(
        verifier.verify(&other_issuer.token),
        Err(AuthError::WrongIssuer)
    );
}

/// A token claiming a symmetric algorithm (the classic key-confusion attack) is refused
/// before any key is used.
#[test]
fn refuses_other_algorithms() {
    let good = issuer("k1", 1);
    let verifier = Verifier::new(vec![good.public_key()]);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD
        .encode(r#"{"sub":"u","roles":["admin"],"iat":1,"exp":99999999999,"iss":"protomesh"}"#);
    let token = format!("{header}.{claims}.c2ln");
    assert!(matches!(
        verifier.verify(&token),
        Err(AuthError::Malformed(m)) if m.contains("HS256")
    ));
    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
    assert!(matches!(
        verifier.verify(&format!("{none}.{claims}.")),
        Err(AuthError::Malformed(_))
    ));
    let no_kid = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#);
    assert!(matches!(
        verifier.verify(&format!("{no_kid}.{claims}.c2ln")),
        Err(AuthError::Malformed(m)) if m.contains("kid")
    ));
}

/// During a rotation both keys verify; after the old key is dropped, its tokens do not.
#[test]
fn rotation() {
    let old = issuer("2026-01", 1);
    let new = issuer("2026-02", 2);
    let verifier = Verifier::new(vec![old.public_key(), new.public_key()]);
    let old_token = old.issue("u", &["customer"], HOUR).unwrap().token;
    let new_token = new.issue("u", &["customer"], HOUR).unwrap().token;
    assert!(verifier.verify(&old_token).is_ok());
    assert!(verifier.verify(&new_token).is_ok());

    let shared = verifier.clone();
    verifier.replace_keys(vec![new.public_key()]);
    assert_eq!(shared.key_ids(), ["2026-02"]);
    assert_eq!(
        shared.verify(&old_token),
        Err(AuthError::UnknownKey("2026-01".into()))
    );
    assert!(shared.verify(&new_token).is_ok());
}

/// Debug output of tokens and principals never shows the token.
#[test]
fn debug_hides_tokens() {
    let issued = issuer("k1", 1).issue("u", &["admin"], HOUR).unwrap();
    assert!(!format!("{issued:?}").contains(&issued.token));
    let principal = Verifier::new(vec![issuer("k1", 1).public_key()])
        .verify(&issued.token)
        .unwrap();
    assert!(!format!("{principal:?}").contains(&issued.token));
}

/// A verified token is remembered and answers the same from memory; a remembered token whose
/// time is up is refused as expired and forgotten.
#[test]
fn cache_remembers_until_expiry() {
    let issuer = issuer("k1", 1);
    let verifier = Verifier::new(vec![issuer.public_key()]).with_leeway(Duration::ZERO);
    let token = issuer.issue("u", &["admin"], HOUR).unwrap().token;
    let fresh = verifier.verify(&token).unwrap();
    assert_eq!(verifier.cache.lock().unwrap().entries.len(), 1);
    assert_eq!(verifier.verify(&token).unwrap(), fresh);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    verifier.cache.lock().unwrap().entries.insert(
        "remembered".into(),
        Verified {
            subject: "u".into(),
            roles: vec![],
            exp: now - 5,
        },
    );
    assert_eq!(verifier.verify("remembered"), Err(AuthError::Expired));
    assert!(
        !verifier
            .cache
            .lock()
            .unwrap()
            .entries
            .contains_key("remembered")
    );

    // Failures are never remembered.
    assert!(verifier.verify("not.a.jwt").is_err());
    assert_eq!(verifier.cache.lock().unwrap().entries.len(), 1);
}

/// A service token carries the service role and the service's name.
#[test]
fn service_tokens() {
    let issuer = issuer("k1", 1);
    let token = issuer.issue_service_token("orders", HOUR).unwrap().token;
    let principal = Verifier::new(vec![issuer.public_key()])
        .verify(&token)
        .unwrap();
    assert_eq!(principal.subject, "orders");
    assert!(principal.has_role(crate::auth::roles::SERVICE));
}
