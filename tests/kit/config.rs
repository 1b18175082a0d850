//! Settings layering and errors that name the bad setting.

use std::time::Duration;

use protomesh::config::{
    ConfigError, Loader, LogFormat, ServerConfig,
    server::{DEFAULT_GRACE_PERIOD, DEFAULT_HEADER_READ_TIMEOUT},
};
use serde::Deserialize;

/// A role's settings: the shared server section plus its own.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RoleSettings {
    /// The gRPC server.
    server: ServerConfig,
    /// A role-specific setting.
    database_url: String,
}

/// Environment variables as the loader takes them.
fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Defaults < file < env < flags, each layer overriding only what it sets.
#[test]
fn layers_override_in_order() {
    let file = r#"
        database_url = "sqlite://file.db"
        [server]
        concurrency_limit = 10
        max_message_size = 1000
        grace_period = "7s"
        log_format = "json"
        [server.method_deadlines]
        "/shop.catalog.v1.CatalogService/GetProduct" = "250ms"
    "#;
    let settings: RoleSettings = Loader::new()
        .toml("role.toml", file)
        .unwrap()
        .env(env(&[
            ("PROTOMESH_SERVER__CONCURRENCY_LIMIT", "20"),
            ("PROTOMESH_SERVER__MAX_MESSAGE_SIZE", "2000"),
            ("PROTOMESH_SERVER__HEADER_READ_TIMEOUT", "75s"),
            ("PROTOMESH_CONFIG", "role.toml"),
            ("HOME", "/root"),
        ]))
        .flag("server.concurrency_limit", "30")
        .flag("server.listen_addr", "127.0.0.1:7001")
        .load()
        .unwrap();

    assert_eq!(
        settings.server.concurrency_limit, 30,
        "flag beats env and file"
    );
    assert_eq!(settings.server.max_message_size, 2000, "env beats file");
    assert_eq!(
        settings.server.grace_period,
        Duration::from_secs(7),
        "file beats default"
    );
    assert_eq!(settings.server.header_read_timeout, Duration::from_secs(75));
    assert_eq!(settings.server.log_format, LogFormat::Json);
    assert_eq!(settings.server.listen_addr.port(), 7001);
    assert_eq!(settings.database_url, "sqlite://file.db");
    assert_eq!(
        settings.server.method_deadlines["/shop.catalog.v1.CatalogService/GetProduct"],
        Duration::from_millis(250)
    );
    settings.server.validate("server").unwrap();
    let defaults: RoleSettings = Loader::new().load().unwrap();
    assert_eq!(defaults.server.grace_period, DEFAULT_GRACE_PERIOD);
    assert_eq!(
        defaults.server.header_read_timeout,
        DEFAULT_HEADER_READ_TIMEOUT
    );
}

/// A bad value names the setting and the layer it came from.
#[test]
fn bad_values_name_the_setting_and_origin() {
    let error = Loader::new()
        .env(env(&[("PROTOMESH_SERVER__CONCURRENCY_LIMIT", "lots")]))
        .load::<RoleSettings>()
        .unwrap_err();
    assert_eq!(error.setting(), Some("server.concurrency_limit"));
    let message = error.to_string();
    assert!(
        message.contains("PROTOMESH_SERVER__CONCURRENCY_LIMIT"),
        "{message}"
    );

    let error = Loader::new()
        .toml("role.toml", "[server]\ngrace_period = \"soon\"")
        .unwrap()
        .load::<RoleSettings>()
        .unwrap_err();
    assert_eq!(error.setting(), Some("server.grace_period"));
    assert!(error.to_string().contains("file role.toml"), "{error}");

    let error = Loader::new()
        .flag("server.listen_addr", "not-an-address")
        .load::<RoleSettings>()
        .unwrap_err();
    assert_eq!(error.setting(), Some("server.listen_addr"));
}

/// Unknown keys (typos) are refused naming the key; invalid TOML names the file.
#[test]
fn unknown_keys_and_bad_files_are_reported() {
    let error = Loader::new()
        .flag("server.listen_adr", "127.0.0.1:1")
        .load::<RoleSettings>()
        .unwrap_err();
    assert!(error.to_string().contains("listen_adr"), "{error}");

    let error = Loader::new().toml("broken.toml", "[server").unwrap_err();
    assert!(matches!(error, ConfigError::Parse { ref origin, .. } if origin == "broken.toml"));
    let error = Loader::new().file("/nonexistent/role.toml").unwrap_err();
    assert!(error.to_string().contains("/nonexistent/role.toml"));
}

/// Validation catches what types cannot, naming the setting.
#[test]
fn validation_names_the_setting() {
    let config = ServerConfig {
        max_message_size: 0,
        ..ServerConfig::default()
    };
    let error = config.validate("server").unwrap_err();
    assert_eq!(error.setting(), Some("server.max_message_size"));

    let mut config = ServerConfig::default();
    config
        .method_deadlines
        .insert("GetProduct".into(), Duration::from_secs(1));
    let error = config.validate("server").unwrap_err();
    assert_eq!(error.setting(), Some("server.method_deadlines"));

    let config = ServerConfig {
        header_read_timeout: Duration::ZERO,
        ..ServerConfig::default()
    };
    let error = config.validate("server").unwrap_err();
    assert_eq!(error.setting(), Some("server.header_read_timeout"));
}
