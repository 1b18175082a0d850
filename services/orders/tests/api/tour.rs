//! The README's tour across all four services, with tokens issued by the users service.

use protomesh::contracts::shop::{
    catalog::v1::CreateProductRequest,
    orders::v1::{CancelOrderRequest, GetOrderRequest, OrderStatus, WatchOrderRequest},
    users::v1::{LoginRequest, RegisterUserRequest, user_service_client::UserServiceClient},
};
use shop_common::testing::{Caller, TestDb, TestServer, test_signing_key};
use shop_users::{AdminAccount, Config};
use tonic::{Code, service::Routes};

use crate::helpers::{spawn, usd};

shop_common::engine_tests!(register_login_shop_order_and_cancel);

/// Logs in with the users service, then: an admin creates a product, a customer registers,
/// logs in, fills a cart, orders, reads, watches and cancels; a forged token is refused.
async fn register_login_shop_order_and_cancel(db: TestDb) {
    let mut app = spawn(&db).await;
    let mut config = Config::new(db.fresh_url().await, test_signing_key());
    config.admin = Some(AdminAccount {
        email: "admin@shop.test".to_owned(),
        password: "admin-password".to_owned(),
    });
    let users = shop_users::service(&config).await.unwrap();
    let users = TestServer::start(Routes::new(users)).await;
    let mut users = UserServiceClient::new(users.channel.clone());
    let login = |email: &str, password: &str| LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
    };

    let admin = users
        .login(login("admin@shop.test", "admin-password"))
        .await
        .unwrap();
    let admin = admin.into_inner();
    let admin = Caller::with_token(&admin.user.unwrap().user_id, &admin.access_token);
    let product = app
        .catalog
        .create_product(admin.request(CreateProductRequest {
            sku: "TOUR".to_owned(),
            name: "Tour Guide".to_owned(),
            description: String::new(),
            category: "books".to_owned(),
            price: Some(usd(1500)),
            stock: 5,
        }))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();

    users
        .register_user(RegisterUserRequest {
            email: "ann@shop.test".to_owned(),
            password: "ann-password".to_owned(),
            display_name: "Ann".to_owned(),
        })
        .await
        .unwrap();
    let session = users
        .login(login("ann@shop.test", "ann-password"))
        .await
        .unwrap();
    let session = session.into_inner();
    let ann = Caller::with_token(&session.user.unwrap().user_id, &session.access_token);

    app.add(&ann, &product.product_id, 2).await;
    let order = app.create(&ann, "tour-1").await.unwrap();
    assert_eq!(order.status(), OrderStatus::Confirmed);
    assert_eq!(order.total, Some(usd(3000)));
    assert_eq!(order.user_id, ann.subject);
    let got = app
        .orders
        .get_order(ann.request(GetOrderRequest {
            order_id: order.order_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.order, Some(order.clone()));
    let mut watch = app
        .orders
        .watch_order(ann.request(WatchOrderRequest {
            order_id: order.order_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch
            .message()
            .await
            .unwrap()
            .unwrap()
            .order
            .unwrap()
            .status(),
        OrderStatus::Confirmed
    );
    app.orders
        .cancel_order(ann.request(CancelOrderRequest {
            order_id: order.order_id.clone(),
        }))
        .await
        .unwrap();
    assert_eq!(
        watch
            .message()
            .await
            .unwrap()
            .unwrap()
            .order
            .unwrap()
            .status(),
        OrderStatus::Cancelled
    );
    assert_eq!(app.stock(&product.product_id).await, 5);

    let forged = Caller::with_token(&ann.subject, &format!("{}x", session.access_token));
    let err = app.create(&forged, "tour-2").await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}
