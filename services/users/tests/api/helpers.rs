//! Starting a users server for a test.

use protomesh::contracts::shop::users::v1::{
    LoginRequest, LoginResponse, RegisterUserRequest, User, user_service_client::UserServiceClient,
};
use shop_common::testing::{TestServer, test_signing_key};
use shop_users::{AdminAccount, Config};
use tonic::{Code, Status, service::Routes, transport::Channel};
use tonic_types::StatusExt;

/// A running users service and a client of it.
pub(crate) struct App {
    /// The server.
    pub(crate) server: TestServer,
    /// A client connected to it.
    pub(crate) client: UserServiceClient<Channel>,
}

/// The settings of a test users service: the test signing key, the database at `url`.
pub(crate) fn config(url: &str, admin: Option<(&str, &str)>) -> Config {
    let mut config = Config::new(url, test_signing_key());
    config.admin = admin.map(|(email, password)| AdminAccount {
        email: email.to_owned(),
        password: password.to_owned(),
    });
    config
}

/// Starts a users service with `config`.
pub(crate) async fn spawn(config: &Config) -> App {
    let service = shop_users::service(config).await.expect("users starts");
    let server = TestServer::start(Routes::new(service)).await;
    let client = UserServiceClient::new(server.channel.clone());
    App { server, client }
}

impl App {
    /// Registers an account.
    pub(crate) async fn register(&mut self, email: &str, password: &str) -> Result<User, Status> {
        Ok(self
            .client
            .register_user(RegisterUserRequest {
                email: email.to_owned(),
                password: password.to_owned(),
                display_name: "Ann".to_owned(),
            })
            .await?
            .into_inner()
            .user
            .expect("user"))
    }

    /// Logs in.
    pub(crate) async fn login(
        &mut self,
        email: &str,
        password: &str,
    ) -> Result<LoginResponse, Status> {
        Ok(self
            .client
            .login(LoginRequest {
                email: email.to_owned(),
                password: password.to_owned(),
            })
            .await?
            .into_inner())
    }
}

/// The fields named by an INVALID_ARGUMENT status, after checking its code.
pub(crate) fn bad_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("a BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}
