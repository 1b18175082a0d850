//! The configured admin account and the published signing keys.

use protomesh::{
    auth::{PublicKey, SigningKey},
    contracts::shop::users::v1::{GetCurrentUserRequest, ListSigningKeysRequest, Role},
};
use shop_common::testing::{Caller, TestDb, test_signing_key};
use tonic::Code;

use crate::helpers::{config, spawn};

shop_common::engine_tests!(admin_is_created_once_from_config, publishes_signing_keys);

/// A configured admin is created at start, logs in with the admin role, and a restart neither
/// duplicates nor resets the account.
async fn admin_is_created_once_from_config(db: TestDb) {
    let url = db.fresh_url().await;
    let admin = Some(("Admin@Shop.test", "admin-password"));
    let mut app = spawn(&config(&url, admin)).await;
    let login = app
        .login("admin@shop.test", "admin-password")
        .await
        .unwrap();
    let user = login.user.clone().unwrap();
    assert_eq!(user.role(), Role::Admin);
    let me = Caller::with_token(&user.user_id, &login.access_token);
    let current = app
        .client
        .get_current_user(me.request(GetCurrentUserRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(current.user.unwrap().role(), Role::Admin);
    app.server.stop().await;

    let changed = Some(("admin@shop.test", "another-password"));
    let mut again = spawn(&config(&url, changed)).await;
    let second = again
        .login("admin@shop.test", "admin-password")
        .await
        .unwrap();
    assert_eq!(second.user.unwrap().user_id, user.user_id);
    let err = again
        .login("admin@shop.test", "another-password")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(
        again
            .register("ADMIN@shop.test", "password-x")
            .await
            .unwrap_err()
            .code(),
        Code::AlreadyExists
    );
}

/// ListSigningKeys publishes the current key first, then the previous ones, as raw Ed25519
/// public keys that parse back into the kit's key type.
async fn publishes_signing_keys(db: TestDb) {
    let old = SigningKey::from_seed("old-key", [3; 32]).unwrap().public();
    let mut config = config(&db.fresh_url().await, None);
    config.previous_keys = vec![old.clone()];
    let mut app = spawn(&config).await;
    let keys = app
        .client
        .list_signing_keys(ListSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let parsed: Vec<PublicKey> = keys
        .iter()
        .map(|k| PublicKey::try_from(k).unwrap())
        .collect();
    assert_eq!(parsed, [test_signing_key().public(), old]);
    assert_eq!(keys[0].algorithm, "EdDSA");
    assert_eq!(keys[0].public_key.len(), 32);
}
