package jwtauth_test

import (
	"fmt"
	"time"

	"wharf/jwtauth"
)

func Example() {
	secret := []byte("a secret the backend and wharfd share, 32+ bytes")
	// The backend signs a token for its user 42...
	token, _ := jwtauth.SignHMAC(secret, jwtauth.Claims{Subject: "42", Name: "Alice", Expires: time.Now().Add(time.Hour)})
	// ... and wharfd verifies it when the connection logs in with it.
	v, err := jwtauth.New(jwtauth.Config{HMACSecret: secret})
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(token)
	fmt.Println(c.Subject, c.Name, err)
	// Output: 42 Alice <nil>
}
