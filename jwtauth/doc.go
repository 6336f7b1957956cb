// Package jwtauth verifies the JSON Web Tokens (RFC 7519) with which an
// application's own backend lets its users connect to wharfd, so that the
// backend, not wharfd's account store, decides who a connection is.
//
// The backend signs a token with a shared HMAC secret (HS256, HS384,
// HS512) or with a private key whose public half wharfd holds (RSA: RS* and
// PS*; ECDSA: ES256, ES384, ES512; Ed25519: EdDSA), and hands it to its
// client, which presents it when it connects (packet code 6 with
// {"token": "..."}: packet/SPEC.md section 8). The claims wharfd reads:
//
//	sub       the user ID (required): the connection's user in channels,
//	          the owner of "user:<sub>", the target of direct messages
//	exp       when the token, and the connection's login, ends (required)
//	nbf, iat  not before; issued at (checked when present)
//	iss, aud  checked against Config.Issuer and Config.Audience when set
//	name      a display name (optional; defaults to sub)
//	channels  channels the connection is subscribed to at login, on the
//	          backend's authority (optional)
//
// Tokens signed with "none", with an algorithm whose key is not
// configured, or with an HMAC algorithm when only a public key is
// configured (the classic key-confusion attack) are refused.
//
// # Using it
//
//	v, err := jwtauth.New(jwtauth.Config{HMACSecret: secret})
//	claims, err := v.Verify(token) // err wraps ErrInvalid; errors.Is(err, ErrExpired) for an expired one
//
// A Verifier is safe for concurrent use. Verifying an HS256 token costs
// about 15 µs and 40 small allocations on the development machine
// (BenchmarkVerifyHS256; public-key algorithms cost more), once per login,
// not per message.
//
// The verification itself is github.com/golang-jwt/jwt/v5's; this package
// fixes the options (required exp, the algorithms of the configured keys)
// and the claims.
package jwtauth
