//! The auth matrix against a real tonic server on 127.0.0.1 behind the layer, called by a
//! real generated client.

use std::{net::SocketAddr, time::Duration};

use tonic::{Code, Request, Response, transport::server::TcpIncoming};

use super::*;
use crate::{
    auth::{Issuer, SigningKey},
    contracts::shop::catalog::v1::{
        self as catalog,
        catalog_service_client::CatalogServiceClient,
        catalog_service_server::{CatalogService, CatalogServiceServer},
    },
};

const HOUR: Duration = Duration::from_secs(3600);

/// A catalog that reports the principal it was handed, so tests see what reached the handler.
struct EchoCatalog;

fn caller<T>(request: &Request<T>) -> (String, String) {
    match Principal::of(request) {
        Ok(p) => (p.subject.clone(), p.roles.join(",")),
        Err(_) => ("anonymous".into(), String::new()),
    }
}

#[tonic::async_trait]
impl CatalogService for EchoCatalog {
    async fn list_products(
        &self,
        request: Request<catalog::ListProductsRequest>,
    ) -> Result<Response<catalog::ListProductsResponse>, Status> {
        Ok(Response::new(catalog::ListProductsResponse {
            products: vec![],
            next_page_token: caller(&request).0,
        }))
    }

    async fn get_product(
        &self,
        _: Request<catalog::GetProductRequest>,
    ) -> Result<Response<catalog::GetProductResponse>, Status> {
        Ok(Response::new(catalog::GetProductResponse::default()))
    }

    async fn create_product(
        &self,
        request: Request<catalog::CreateProductRequest>,
    ) -> Result<Response<catalog::CreateProductResponse>, Status> {
        // The typed principal reaches the handler.
        let principal = Principal::of(&request)?;
        Ok(Response::new(catalog::CreateProductResponse {
            product: Some(catalog::Product {
                name: principal.subject.clone(),
                category: principal.roles.join(","),
                description: principal.token.clone(),
                ..Default::default()
            }),
        }))
    }

    async fn update_product_price(
        &self,
        _: Request<catalog::UpdateProductPriceRequest>,
    ) -> Result<Response<catalog::UpdateProductPriceResponse>, Status> {
        Ok(Response::new(catalog::UpdateProductPriceResponse::default()))
    }

    async fn reserve_stock(
        &self,
        request: Request<catalog::ReserveStockRequest>,
    ) -> Result<Response<catalog::ReserveStockResponse>, Status> {
        Ok(Response::new(catalog::ReserveStockResponse {
            reservation_id: caller(&request).0,
            lines: vec![],
        }))
    }

    async fn release_stock(
        &self,
        _: Request<catalog::ReleaseStockRequest>,
    ) -> Result<Response<catalog::ReleaseStockResponse>, Status> {
        Ok(Response::new(catalog::ReleaseStockResponse {
            released: true,
        }))
    }
}

/// A trusted issuer and a client of a catalog server behind the auth layer.
struct Fixture {
    issuer: Issuer,
    client: CatalogServiceClient<tonic::transport::Channel>,
}

impl Fixture {
    async fn start(table: PolicyTable) -> Self {
        let issuer = Issuer::new(SigningKey::from_seed("k1", [1; 32]).unwrap(), "protomesh");
        let verifier = Verifier::new(vec![issuer.public_key()]).with_issuer("protomesh");
        let addr = serve(AuthLayer::new(table, verifier)).await;
        let client = CatalogServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        Self { issuer, client }
    }

    fn token(&self, subject: &str, roles: &[&str]) -> String {
        self.issuer.issue(subject, roles, HOUR).unwrap().token
    }
}

async fn serve(layer: AuthLayer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(layer)
        .add_service(CatalogServiceServer::new(EchoCatalog))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

fn with_auth<T>(message: T, authorization: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    request
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// Calls CreateProduct (admin only) with the given authorization value.
async fn create(
    fx: &mut Fixture,
    authorization: Option<String>,
) -> Result<catalog::Product, Status> {
    let request = with_auth(
        catalog::CreateProductRequest::default(),
        authorization.as_deref(),
    );
    let response = fx.client.create_product(request).await?;
    Ok(response.into_inner().product.unwrap())
}

fn assert_refused(result: Result<catalog::Product, Status>, code: Code, needle: &str) {
    let status = result.expect_err("the call should be refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(needle),
        "message {:?} should contain {needle:?}",
        status.message()
    );
}

/// Missing, malformed, forged, expired and unknown-key tokens are UNAUTHENTICATED, and the
/// message says which.
#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let mut fx = Fixture::start(PolicyTable::protomesh().unwrap()).await;
    assert_refused(
        create(&mut fx, None).await,
        Code::Unauthenticated,
        "missing",
    );
    assert_refused(
        create(&mut fx, bearer("garbage")).await,
        Code::Unauthenticated,
        "malformed",
    );
    assert_refused(
        create(&mut fx, Some("Basic dTpw".into())).await,
        Code::Unauthenticated,
        "Bearer",
    );
    let forged = Issuer::new(SigningKey::from_seed("k1", [2; 32]).unwrap(), "protomesh")
        .issue("mallory", &["admin"], HOUR)
        .unwrap();
    assert_refused(
        create(&mut fx, bearer(&forged.token)).await,
        Code::Unauthenticated,
        "signature",
    );
    let expired = fx
        .issuer
        .issue_at(
            "alice",
            &["admin"],
            HOUR,
            std::time::SystemTime::now() - 2 * HOUR,
        )
        .unwrap();
    assert_refused(
        create(&mut fx, bearer(&expired.token)).await,
        Code::Unauthenticated,
        "expired",
    );
    let rotated_out = Issuer::new(SigningKey::from_seed("k0", [3; 32]).unwrap(), "protomesh")
        .issue("alice", &["admin"], HOUR)
        .unwrap();
    assert_refused(
        create(&mut fx, bearer(&rotated_out.token)).await,
        Code::Unauthenticated,
        "unknown key id \"k0\"",
    );
}

/// A valid token without the declared role is PERMISSION_DENIED naming the role; with the
/// role the handler runs and receives the typed principal.
#[tokio::test]
async fn roles_are_enforced_and_principal_reaches_handler() {
    let mut fx = Fixture::start(PolicyTable::protomesh().unwrap()).await;
    let customer = fx.token("bob", &["customer"]);
    assert_refused(
        create(&mut fx, bearer(&customer)).await,
        Code::PermissionDenied,
        "needs the role \"admin\"",
    );
    let admin = fx.token("alice", &["customer", "admin"]);
    let product = create(&mut fx, Some(format!("bearer  {admin} ")))
        .await
        .unwrap();
    assert_eq!(product.name, "alice");
    assert_eq!(product.category, "customer,admin");
    assert_eq!(product.description, admin);

    let reserve = |token: &str| {
        with_auth(
            catalog::ReserveStockRequest::default(),
            bearer(token).as_deref(),
        )
    };
    let status = fx.client.reserve_stock(reserve(&admin)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("\"service\""), "{status:?}");
    let service = fx.token("orders", &["service"]);
    let response = fx.client.reserve_stock(reserve(&service)).await.unwrap();
    assert_eq!(response.into_inner().reservation_id, "orders");
}

/// A public method answers without a token, and with a valid one its handler still learns
/// the caller; a bad token on a public method is ignored.
#[tokio::test]
async fn public_methods_need_no_token() {
    let mut fx = Fixture::start(PolicyTable::protomesh().unwrap()).await;
    let list = |authorization: Option<String>| {
        with_auth(
            catalog::ListProductsRequest::default(),
            authorization.as_deref(),
        )
    };
    let anonymous = fx.client.list_products(list(None)).await.unwrap();
    assert_eq!(anonymous.into_inner().next_page_token, "anonymous");
    let token = fx.token("carol", &[]);
    let known = fx.client.list_products(list(bearer(&token))).await.unwrap();
    assert_eq!(known.into_inner().next_page_token, "carol");
    let bad = fx.client.list_products(list(bearer("junk"))).await.unwrap();
    assert_eq!(bad.into_inner().next_page_token, "anonymous");
}

/// A method whose contract declares no policy is denied even to an admin with a valid
/// token, and a path the table does not know is UNIMPLEMENTED.
#[tokio::test]
async fn undeclared_and_unknown_methods_are_denied() {
    let mut table = PolicyTable::new();
    table.insert(
        "/shop.catalog.v1.CatalogService/ReleaseStock",
        MethodPolicy::Undeclared,
    );
    let mut fx = Fixture::start(table).await;
    let token = fx.token("root", &["admin", "service", "customer"]);

    let release = with_auth(
        catalog::ReleaseStockRequest::default(),
        bearer(&token).as_deref(),
    );
    let status = fx.client.release_stock(release).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("declares no access policy"),
        "{status:?}"
    );

    let get = with_auth(
        catalog::GetProductRequest::default(),
        bearer(&token).as_deref(),
    );
    let status = fx.client.get_product(get).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("GetProduct"), "{status:?}");
}

/// The decision function alone: an authenticated method admits any valid token and refuses
/// a non-UTF-8 header without panicking.
#[test]
fn authorize_decisions() {
    let issuer = Issuer::new(SigningKey::from_seed("k1", [1; 32]).unwrap(), "protomesh");
    let layer = AuthLayer::new(
        PolicyTable::protomesh().unwrap(),
        Verifier::new(vec![issuer.public_key()]),
    );
    let path = "/shop.users.v1.UserService/GetCurrentUser";
    let mut headers = HeaderMap::new();
    let token = issuer.issue("dave", &[] as &[&str], HOUR).unwrap().token;
    headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    let principal = layer.authorize(path, &headers).unwrap().unwrap();
    assert_eq!(principal.subject, "dave");
    assert!(principal.roles.is_empty());

    headers.insert(
        AUTHORIZATION,
        http::HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
    );
    let status = layer.authorize(path, &headers).unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(
        needs_roles(&["a".into(), "b".into()]),
        "this method needs one of the roles \"a\", \"b\""
    );
}

/// The layer stacks under the server trace layer on a real tonic server (the kit's order:
/// trace outside, auth inside) and still refuses and admits as declared.
#[tokio::test]
async fn composes_with_the_trace_layer() {
    let issuer = Issuer::new(SigningKey::from_seed("k1", [1; 32]).unwrap(), "protomesh");
    let auth = AuthLayer::new(
        PolicyTable::protomesh().unwrap(),
        Verifier::new(vec![issuer.public_key()]),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(crate::telemetry::ServerTraceLayer::new())
        .layer(auth)
        .add_service(CatalogServiceServer::new(EchoCatalog))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    let mut client = CatalogServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let status = client
        .create_product(catalog::CreateProductRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let token = issuer.issue("alice", &["admin"], HOUR).unwrap().token;
    let request = with_auth(
        catalog::CreateProductRequest::default(),
        bearer(&token).as_deref(),
    );
    let product = client.create_product(request).await.unwrap().into_inner();
    assert_eq!(product.product.unwrap().name, "alice");
}
