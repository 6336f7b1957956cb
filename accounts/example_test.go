package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"golang.org/x/crypto/bcrypt"

	"wharf/accounts"
)

// The whole life of an account: open a store, register, log in, use the
// session token, log out.
func Example() {
	ctx := context.Background()
	// wharfd uses "sqlite://data/wharf.db" or a postgres:// URL.
	store, err := accounts.Open(ctx, "sqlite://:memory:", accounts.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// bcrypt.MinCost keeps the example fast; leave BcryptCost zero (cost
	// 10) in production.
	svc, err := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
	if err != nil {
		log.Fatal(err)
	}

	alice, err := svc.Register(ctx, "Alice", "correct horse battery")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered", alice.Username, "as user", alice.ID)

	_, err = svc.Register(ctx, "alice", "another password")
	fmt.Println("again, in lower case:", err)

	// Login is case-insensitive; the token goes to the client (a cookie,
	// or the login reply packet).
	user, token, err := svc.Login(ctx, "alice", "correct horse battery")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logged in as", user.Username, "with a token of", len(token), "characters")

	// Later requests present the token.
	user, err = svc.Authenticate(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token belongs to", user.Username)

	if err := svc.Logout(ctx, token); err != nil {
		log.Fatal(err)
	}
	_, err = svc.Authenticate(ctx, token)
	fmt.Println("after logout:", err)

	// Output:
	// registered Alice as user 1
	// again, in lower case: accounts: username already taken
	// logged in as Alice with a token of 43 characters
	// token belongs to Alice
	// after logout: accounts: invalid or expired session token
}

func ExampleOpen() {
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite://:memory:", accounts.StoreOptions{MaxOpenConns: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	n, err := store.CountUsers(ctx)
	fmt.Println(n, err)
	// Output: 0 <nil>
}

func ExampleNewService() {
	store, err := accounts.Open(context.Background(), "sqlite://:memory:", accounts.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	_, err = accounts.NewService(store, accounts.Config{BcryptCost: 3})
	fmt.Println(err)
	// Output: accounts: invalid configuration: Config.BcryptCost: must be 4 to 31, got 3
}

func ExampleService_Register() {
	ctx := context.Background()
	store, _ := accounts.Open(ctx, "sqlite://:memory:", accounts.StoreOptions{})
	defer store.Close()
	svc, _ := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})

	for _, name := range []string{"bob", "b", "bob!", "BOB"} {
		_, err := svc.Register(ctx, name, "a good password")
		var ve *accounts.ValidationError
		switch {
		case err == nil:
			fmt.Printf("%s: ok\n", name)
		case errors.As(err, &ve):
			fmt.Printf("%s: bad %s: %s\n", name, ve.Field, ve.Reason)
		case errors.Is(err, accounts.ErrUsernameTaken):
			fmt.Printf("%s: taken\n", name)
		}
	}
	// Output:
	// bob: ok
	// b: bad username: must be 3 to 32 characters
	// bob!: bad username: may contain only letters A-Z and a-z, digits, '_', '.' and '-'
	// BOB: taken
}

func ExampleService_Login() {
	ctx := context.Background()
	store, _ := accounts.Open(ctx, "sqlite://:memory:", accounts.StoreOptions{})
	defer store.Close()
	svc, _ := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
	svc.Register(ctx, "carol", "carol's password")

	// A wrong password and an unknown user get the same answer.
	_, _, err1 := svc.Login(ctx, "carol", "wrong password")
	_, _, err2 := svc.Login(ctx, "mallory", "carol's password")
	fmt.Println(err1)
	fmt.Println(err2)
	// Output:
	// accounts: invalid username or password
	// accounts: invalid username or password
}

func ExampleService_Authenticate() {
	ctx := context.Background()
	store, _ := accounts.Open(ctx, "sqlite://:memory:", accounts.StoreOptions{})
	defer store.Close()
	svc, _ := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
	svc.Register(ctx, "dave", "dave's password")
	_, token, _ := svc.Login(ctx, "dave", "dave's password")

	u, err := svc.Authenticate(ctx, token)
	fmt.Println(u.Username, err)
	_, err = svc.Authenticate(ctx, "forged")
	fmt.Println(err)
	// Output:
	// dave <nil>
	// accounts: invalid or expired session token
}

func ExampleService_PurgeExpired() {
	ctx := context.Background()
	store, _ := accounts.Open(ctx, "sqlite://:memory:", accounts.StoreOptions{})
	defer store.Close()
	svc, _ := accounts.NewService(store, accounts.Config{BcryptCost: bcrypt.MinCost})
	// A daemon runs this on a ticker; expired sessions are refused anyway.
	n, err := svc.PurgeExpired(ctx)
	fmt.Println(n, err)
	// Output: 0 <nil>
}

func ExampleRedactURL() {
	fmt.Println(accounts.RedactURL("postgres://wharf:hunter2@db.internal:5432/wharf?sslmode=require"))
	fmt.Println(accounts.RedactURL("sqlite://data/wharf.db"))
	// Output:
	// postgres://wharf:xxxxx@db.internal:5432/wharf?sslmode=require
	// sqlite://data/wharf.db
}

func ExampleValidateUsername() {
	fmt.Println(accounts.ValidateUsername("eve.smith-2"))
	fmt.Println(accounts.ValidateUsername("ève"))
	// Output:
	// <nil>
	// accounts: invalid username: may contain only letters A-Z and a-z, digits, '_', '.' and '-'
}

func ExampleValidatePassword() {
	fmt.Println(accounts.ValidatePassword("short"))
	fmt.Println(accounts.ValidatePassword("long enough"))
	// Output:
	// accounts: invalid password: must be 8 to 72 bytes
	// <nil>
}

// Another package keeps its tables in the accounts database (wharfd's
// channel history does) through the store's own handles.
func ExampleDatabaseOf() {
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite://:memory:", accounts.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // also closes the handles
	db, _ := accounts.DatabaseOf(store)
	if _, err := db.Writer.ExecContext(ctx, `CREATE TABLE notes (body TEXT)`); err != nil {
		log.Fatal(err)
	}
	fmt.Println(db.Dialect)
	// Output: sqlite
}
