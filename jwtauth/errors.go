package jwtauth

import "errors"

var (
	// ErrInvalid refuses a token that does not verify: malformed, signed
	// with another key or algorithm, missing sub or exp, not yet valid, for
	// another issuer or audience, or expired. Verify's errors wrap it and
	// say why.
	ErrInvalid = errors.New("jwtauth: invalid token")
	// ErrExpired refuses a token past its exp (it also matches ErrInvalid).
	ErrExpired = errors.New("jwtauth: token expired")
	// ErrNoKey refuses a Config with neither an HMAC secret nor a public key.
	ErrNoKey = errors.New("jwtauth: no key configured (set HMACSecret or PublicKeyPEM)")
)
