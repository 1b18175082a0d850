//! The `shop.users.v1.UserService` implementation.

use std::time::{Duration, UNIX_EPOCH};

use protomesh::{
    auth::{Issuer, Principal, PublicKey},
    contracts::shop::users::v1::{
        GetCurrentUserRequest, GetCurrentUserResponse, ListSigningKeysRequest,
        ListSigningKeysResponse, LoginRequest, LoginResponse, RegisterUserRequest,
        RegisterUserResponse, Role, SigningKey, User, user_service_server::UserService,
    },
};
use shop_common::{Db, time::timestamp};
use tonic::{Request, Response, Status};

use crate::{
    Config, Error, MIGRATOR,
    config::DEFAULT_ADMIN_NAME,
    domain::{Credentials, Registration, role_name, role_of},
    password,
    store::{NewUser, Store, UserRow},
};

/// The users service: a cheap, clonable handle.
#[derive(Debug, Clone)]
pub struct Users {
    store: Store,
    issuer: Issuer,
    keys: Vec<PublicKey>,
    token_ttl: Duration,
    /// A hash of no one's password, checked when a login names no account, so that an
    /// unknown email takes as long as a wrong password.
    decoy_hash: String,
}

impl Users {
    /// Opens and migrates the database and ensures the configured admin account.
    pub async fn open(config: &Config) -> Result<Self, Error> {
        let db = Db::open(&config.database_url, config.max_connections, &MIGRATOR).await?;
        let mut keys = vec![config.signing_key.public()];
        keys.extend(config.previous_keys.iter().cloned());
        let users = Self {
            store: Store::new(db),
            issuer: Issuer::new(config.signing_key.clone(), config.issuer.clone()),
            keys,
            token_ttl: config.token_ttl,
            decoy_hash: password::hash(uuid::Uuid::new_v4().to_string()).await?,
        };
        if let Some(admin) = &config.admin {
            users.ensure_admin(&admin.email, &admin.password).await?;
        }
        Ok(users)
    }

    /// Creates the admin account unless an account has this email already.
    async fn ensure_admin(&self, email: &str, password: &str) -> Result<(), Error> {
        let registration = Registration::parse(RegisterUserRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            display_name: DEFAULT_ADMIN_NAME.to_owned(),
        })
        .map_err(Error::BadAdmin)?;
        if self
            .store
            .by_email_key(&registration.email.key)
            .await?
            .is_some()
        {
            return Ok(());
        }
        if self.create(&registration, Role::Admin).await.is_ok() {
            tracing::info!(email = %registration.email.address, "created the admin account");
        }
        Ok(())
    }

    /// Hashes the password and inserts the account.
    async fn create(&self, registration: &Registration, role: Role) -> Result<UserRow, Error> {
        let password_hash = password::hash(registration.password.clone()).await?;
        self.store
            .insert(&NewUser {
                email: &registration.email.address,
                email_key: &registration.email.key,
                display_name: &registration.display_name,
                role: role_name(role),
                password_hash: &password_hash,
            })
            .await?
            .ok_or(Error::EmailTaken)
    }
}

#[tonic::async_trait]
impl UserService for Users {
    async fn register_user(
        &self,
        request: Request<RegisterUserRequest>,
    ) -> Result<Response<RegisterUserResponse>, Status> {
        let registration = Registration::parse(request.into_inner()).map_err(Error::from)?;
        // Fail fast without spending a hash on a taken email; the unique index decides races.
        if self
            .store
            .by_email_key(&registration.email.key)
            .await?
            .is_some()
        {
            return Err(Error::EmailTaken.into());
        }
        let row = self.create(&registration, Role::Customer).await?;
        tracing::info!(user_id = %row.user_id, "user registered");
        Ok(Response::new(RegisterUserResponse {
            user: Some(user(row)),
        }))
    }

    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        let credentials = Credentials::parse(request.into_inner()).map_err(Error::from)?;
        let row = self.store.by_email_key(&credentials.email_key).await?;
        let stored = row
            .as_ref()
            .map_or_else(|| self.decoy_hash.clone(), |r| r.password_hash.clone());
        let matches = password::verify(credentials.password, stored)
            .await
            .map_err(Error::from)?;
        let row = match row {
            Some(row) if matches => row,
            _ => return Err(Error::LoginFailed.into()),
        };
        let issued = self
            .issuer
            .issue(&row.user_id, &[row.role.as_str()], self.token_ttl)
            .map_err(Error::from)?;
        let expires = issued
            .expires_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(Response::new(LoginResponse {
            access_token: issued.token,
            expire_time: Some(prost_types::Timestamp {
                seconds: i64::try_from(expires.as_secs()).unwrap_or(i64::MAX),
                nanos: 0,
            }),
            user: Some(user(row)),
        }))
    }

    async fn get_current_user(
        &self,
        request: Request<GetCurrentUserRequest>,
    ) -> Result<Response<GetCurrentUserResponse>, Status> {
        let principal = Principal::of(&request).map_err(Error::Unauthenticated)?;
        let row = self
            .store
            .by_id(&principal.subject)
            .await?
            .ok_or(Error::NoAccount)?;
        Ok(Response::new(GetCurrentUserResponse {
            user: Some(user(row)),
        }))
    }

    async fn list_signing_keys(
        &self,
        _request: Request<ListSigningKeysRequest>,
    ) -> Result<Response<ListSigningKeysResponse>, Status> {
        Ok(Response::new(ListSigningKeysResponse {
            keys: self.keys.iter().map(SigningKey::from).collect(),
        }))
    }
}

/// A stored account on the wire, without its credentials.
fn user(row: UserRow) -> User {
    User {
        role: role_of(&row.role).into(),
        create_time: Some(timestamp(row.create_time)),
        user_id: row.user_id,
        email: row.email,
        display_name: row.display_name,
    }
}
