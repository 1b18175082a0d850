//! Registering, logging in and reading the current user.

use protomesh::contracts::shop::users::v1::{
    GetCurrentUserRequest, LoginRequest, RegisterUserRequest, Role,
};
use shop_common::testing::{Caller, TestDb};
use sqlx::Connection;
use tonic::Code;

use crate::helpers::{bad_fields, config, spawn};

shop_common::engine_tests!(
    registers_logs_in_and_reads_self,
    emails_are_unique_case_insensitively,
    concurrent_registrations_make_one_account,
    rejects_bad_registrations_without_writing,
    wrong_credentials_are_unauthenticated,
    current_user_needs_a_token,
);

/// A customer registers, logs in with the email in another case, and the token reads their
/// account; the password is stored only as an argon2id hash.
async fn registers_logs_in_and_reads_self(db: TestDb) {
    let url = db.fresh_url().await;
    let mut app = spawn(&config(&url, None)).await;
    let user = app
        .register("Ann@Example.com", "s3cret-pass")
        .await
        .unwrap();
    assert_eq!(user.email, "Ann@Example.com");
    assert_eq!(user.role(), Role::Customer);
    assert!(!user.user_id.is_empty() && user.create_time.is_some());

    let login = app.login("ann@EXAMPLE.com", "s3cret-pass").await.unwrap();
    assert_eq!(login.user.as_ref(), Some(&user));
    let expires = login.expire_time.unwrap().seconds;
    let now = shop_common::time::now_micros() / 1_000_000;
    assert!(
        (now + 3500..=now + 3700).contains(&expires),
        "{expires} vs {now}"
    );

    let me = Caller::with_token(&user.user_id, &login.access_token);
    let current = app
        .client
        .get_current_user(me.request(GetCurrentUserRequest {}))
        .await
        .unwrap()
        .into_inner()
        .user;
    assert_eq!(current, Some(user));

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains("s3cret-pass"));
}

/// A second registration of the same email in another case is ALREADY_EXISTS.
async fn emails_are_unique_case_insensitively(db: TestDb) {
    let mut app = spawn(&config(&db.fresh_url().await, None)).await;
    app.register("bob@example.com", "password-1").await.unwrap();
    let err = app
        .register("BOB@Example.COM", "password-2")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(app.login("bob@example.com", "password-2").await.is_err());
    assert!(app.login("bob@example.com", "password-1").await.is_ok());
}

/// Five concurrent registrations of one email make exactly one account.
async fn concurrent_registrations_make_one_account(db: TestDb) {
    let app = spawn(&config(&db.fresh_url().await, None)).await;
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let mut client = app.client.clone();
            tokio::spawn(async move {
                client
                    .register_user(RegisterUserRequest {
                        email: "Race@Example.com".to_owned(),
                        password: format!("password-{i}"),
                        display_name: "Racer".to_owned(),
                    })
                    .await
                    .map_err(|e| e.code())
            })
        })
        .collect();
    let mut created = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => created += 1,
            Err(code) => assert_eq!(code, Code::AlreadyExists),
        }
    }
    assert_eq!(created, 1);
}

/// Bad emails, passwords and names are INVALID_ARGUMENT naming each field; nothing is stored.
async fn rejects_bad_registrations_without_writing(db: TestDb) {
    let mut app = spawn(&config(&db.fresh_url().await, None)).await;
    let err = app
        .client
        .register_user(RegisterUserRequest {
            email: "not-an-email".to_owned(),
            password: "short".to_owned(),
            display_name: " ".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["email", "password", "display_name"]);
    let err = app
        .client
        .register_user(RegisterUserRequest {
            email: "ok@example.com".to_owned(),
            password: "p".repeat(129),
            display_name: "n".repeat(101),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["password", "display_name"]);
    // Nothing was written: the email is still free.
    app.register("ok@example.com", "long-enough").await.unwrap();
}

/// A wrong password and an unknown email get the same UNAUTHENTICATED answer; empty fields
/// are INVALID_ARGUMENT.
async fn wrong_credentials_are_unauthenticated(db: TestDb) {
    let mut app = spawn(&config(&db.fresh_url().await, None)).await;
    app.register("cat@example.com", "password-1").await.unwrap();
    let wrong = app
        .login("cat@example.com", "password-2")
        .await
        .unwrap_err();
    let unknown = app
        .login("dog@example.com", "password-1")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        (unknown.code(), unknown.message()),
        (wrong.code(), wrong.message())
    );
    let err = app
        .client
        .login(LoginRequest {
            email: String::new(),
            password: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["email", "password"]);
}

/// GetCurrentUser without a token is UNAUTHENTICATED; with a token of no account, NOT_FOUND.
async fn current_user_needs_a_token(db: TestDb) {
    let mut app = spawn(&config(&db.fresh_url().await, None)).await;
    let err = app
        .client
        .get_current_user(GetCurrentUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let ghost = Caller::customer("no-such-user");
    let err = app
        .client
        .get_current_user(ghost.request(GetCurrentUserRequest {}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
