// Command tour walks the shop over gRPC from Go, with the stubs generated from proto/ by
// protoc-gen-go and protoc-gen-go-grpc (gen/go, made by scripts/gen-clients). Run by
// tests/interop/run against a running `protomesh up`; exits non-zero on any wrong answer.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	cartv1 "protomesh.local/gen/go/shop/cart/v1"
	catalogv1 "protomesh.local/gen/go/shop/catalog/v1"
	ordersv1 "protomesh.local/gen/go/shop/orders/v1"
	usersv1 "protomesh.local/gen/go/shop/users/v1"
)

func main() {
	summary, err := tour()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go grpc tour: FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("go grpc tour: passed (%s)\n", summary)
}

// dial opens a plaintext connection to one instance of `up`.
func dial(port int) *grpc.ClientConn {
	host := os.Getenv("PROTOMESH_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	conn, err := grpc.Dial(fmt.Sprintf("%s:%d", host, port), grpc.WithInsecure())
	if err != nil {
		panic(err) // Dial without WithBlock fails only on a malformed target.
	}
	return conn
}

func tour() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	email := fmt.Sprintf("go-%d@interop.test", time.Now().UnixNano())
	password := "interop-pass-1"

	// -- README: go (begin)
	users := usersv1.NewUserServiceClient(dial(50061))
	catalog := catalogv1.NewCatalogServiceClient(dial(50062))
	carts := cartv1.NewCartServiceClient(dial(50071))
	orders := ordersv1.NewOrderServiceClient(dial(50081))

	registered, err := users.RegisterUser(ctx, &usersv1.RegisterUserRequest{Email: email, Password: password, DisplayName: "Go"})
	if err != nil {
		return "", err
	}
	login, err := users.Login(ctx, &usersv1.LoginRequest{Email: email, Password: password})
	if err != nil {
		return "", err
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+login.AccessToken)
	page, err := catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{PageSize: 3})
	if err != nil {
		return "", err
	}
	product := page.Products[0]
	added, err := carts.AddCartItem(authed, &cartv1.AddCartItemRequest{ProductId: product.ProductId, Quantity: 2})
	if err != nil {
		return "", err
	}
	created, err := orders.CreateOrder(authed, &ordersv1.CreateOrderRequest{RequestId: fmt.Sprintf("go-%d", time.Now().UnixNano())})
	if err != nil {
		return "", err
	}
	cancelled, err := orders.CancelOrder(authed, &ordersv1.CancelOrderRequest{OrderId: created.Order.OrderId})
	if err != nil {
		return "", err
	}
	// -- README: go (end)

	user, order, price := registered.User, created.Order, product.GetPrice().GetMinorUnits()
	checks := []struct {
		ok   bool
		what string
	}{
		{user.Email == email && user.Role == usersv1.Role_ROLE_CUSTOMER, "registered a customer"},
		{login.User.GetUserId() == user.UserId && login.AccessToken != "", "login as that user"},
		{len(page.Products) == 3 && page.NextPageToken != "", "a page of 3 and a next page"},
		{price > 0, "a priced product"},
		{added.Cart.GetTotal().GetMinorUnits() == 2*price, "cart total = 2 x price"},
		{order.Status == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, "order confirmed: " + order.Status.String()},
		{order.UserId == user.UserId, "the order is the caller's"},
		{order.GetTotal().GetMinorUnits() == 2*price, "order total = 2 x price"},
		{len(order.Lines) == 1 && order.Lines[0].Quantity == 2, "one order line of 2"},
		{cancelled.Order.GetOrderId() == order.OrderId, "cancel answers the same order"},
		{cancelled.Order.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_CANCELLED, "cancelled: " + cancelled.Order.GetStatus().String()},
	}
	for _, c := range checks {
		if !c.ok {
			return "", fmt.Errorf("check failed: %s", c.what)
		}
	}
	if _, err := carts.GetCart(ctx, &cartv1.GetCartRequest{}); status.Code(err) != codes.Unauthenticated {
		return "", fmt.Errorf("GetCart without a token: want Unauthenticated, got %v", err)
	}
	return fmt.Sprintf("order %s, total %d %s", order.OrderId, order.GetTotal().GetMinorUnits(), order.GetTotal().GetCurrencyCode()), nil
}
