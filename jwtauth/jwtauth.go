package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Config configures a Verifier. Zero fields take the defaults in the
// comments; at least one of HMACSecret and PublicKeyPEM is required.
type Config struct {
	// HMACSecret verifies tokens signed with HS256, HS384 or HS512. At
	// least 32 bytes: a shorter secret can be guessed offline from any
	// token. Default none.
	HMACSecret []byte

	// PublicKeyPEM is a PEM-encoded public key ("PUBLIC KEY", PKIX; an
	// "RSA PUBLIC KEY" or a certificate's key are read too) that verifies
	// tokens signed by the matching private key: RS256, RS384, RS512,
	// PS256, PS384 and PS512 for RSA; ES256, ES384 or ES512 for ECDSA,
	// as the key's curve says; EdDSA for Ed25519. Default none.
	PublicKeyPEM []byte

	// Issuer, when set, is the iss a token must carry. Default "": any.
	Issuer string

	// Audience, when set, must be among a token's aud. Default "": any.
	Audience string

	// Leeway tolerates that much clock skew between the backend and
	// wharfd on exp, nbf and iat. Default 0.
	Leeway time.Duration

	// Clock tells the time tokens are checked at. Default time.Now.
	Clock func() time.Time
}

// MinHMACSecret is the shortest HMACSecret New accepts.
const MinHMACSecret = 32

// Claims are what a verified token says.
type Claims struct {
	// Subject (sub) is the user ID.
	Subject string
	// Expires (exp) is when the token ends.
	Expires time.Time
	// Name is the display name (name), or Subject when the token has none.
	Name string
	// Channels (channels) are channels to subscribe the connection to on
	// the backend's authority; nil when the token lists none.
	Channels []string
}

// Verifier verifies tokens against the keys of its Config. Safe for
// concurrent use.
type Verifier struct {
	parser  *jwt.Parser
	hmac    []byte
	public  crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey; nil for none
	methods []string         // the algorithms the keys verify
}

// New returns a Verifier for cfg, or an error naming the bad field.
func New(cfg Config) (*Verifier, error) {
	v := &Verifier{}
	if len(cfg.HMACSecret) > 0 {
		if len(cfg.HMACSecret) < MinHMACSecret {
			return nil, fmt.Errorf("jwtauth: Config.HMACSecret: %d bytes, want at least %d", len(cfg.HMACSecret), MinHMACSecret)
		}
		v.hmac = append([]byte(nil), cfg.HMACSecret...)
		v.methods = append(v.methods, "HS256", "HS384", "HS512")
	}
	if len(cfg.PublicKeyPEM) > 0 {
		key, methods, err := parsePublicKey(cfg.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("jwtauth: Config.PublicKeyPEM: %w", err)
		}
		v.public = key
		v.methods = append(v.methods, methods...)
	}
	if len(v.methods) == 0 {
		return nil, ErrNoKey
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("jwtauth: Config.Leeway must not be negative, got %v", cfg.Leeway)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Clock != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Clock))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// parsePublicKey reads a PEM public key and the algorithms it verifies.
func parsePublicKey(data []byte) (crypto.PublicKey, []string, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, nil, errors.New("no PEM block found")
	}
	if key, err := jwt.ParseRSAPublicKeyFromPEM(data); err == nil {
		return key, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	}
	if key, err := jwt.ParseECPublicKeyFromPEM(data); err == nil {
		switch key.Curve.Params().BitSize {
		case 256:
			return key, []string{"ES256"}, nil
		case 384:
			return key, []string{"ES384"}, nil
		case 521:
			return key, []string{"ES512"}, nil
		}
		return nil, nil, fmt.Errorf("unsupported ECDSA curve %s", key.Curve.Params().Name)
	}
	if key, err := jwt.ParseEdPublicKeyFromPEM(data); err == nil {
		return key, []string{"EdDSA"}, nil
	}
	return nil, nil, fmt.Errorf("%s block is not an RSA, ECDSA or Ed25519 public key", block.Type)
}

// claims is the token's JSON.
type claims struct {
	jwt.RegisteredClaims
	Name     string   `json:"name,omitempty"`
	Channels []string `json:"channels,omitempty"`
}

// key picks the key for the token's algorithm; the parser has already
// refused algorithms outside v.methods.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if v.hmac != nil {
			return v.hmac, nil
		}
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		if k, ok := v.public.(*rsa.PublicKey); ok {
			return k, nil
		}
	case *jwt.SigningMethodECDSA:
		if k, ok := v.public.(*ecdsa.PublicKey); ok {
			return k, nil
		}
	case *jwt.SigningMethodEd25519:
		if k, ok := v.public.(ed25519.PublicKey); ok {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no key for algorithm %s", t.Method.Alg())
}

// Verify checks token's signature and claims and returns them. Its errors
// wrap ErrInvalid (and ErrExpired for an expired token) with the reason,
// never with the token.
func (v *Verifier) Verify(token string) (Claims, error) {
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.key); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, expiredError{}
		}
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalid, reason(err))
	}
	if c.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no sub claim", ErrInvalid)
	}
	out := Claims{Subject: c.Subject, Expires: c.ExpiresAt.Time, Name: c.Name, Channels: c.Channels}
	if out.Name == "" {
		out.Name = c.Subject
	}
	return out, nil
}

// expiredError is Verify's error for an expired token: it matches both
// ErrInvalid and ErrExpired.
type expiredError struct{}

func (expiredError) Error() string { return "jwtauth: invalid token: expired" }

func (expiredError) Is(target error) bool { return target == ErrInvalid || target == ErrExpired }

// reason is the part of a jwt error that says what failed.
func reason(err error) string {
	s := err.Error()
	// jwt's messages are "token is malformed: ...", "token signature is
	// invalid: ..."; they never contain the token.
	return strings.TrimPrefix(s, "token ")
}

// LooksLikeJWT reports whether token has a JWT's shape (three base64url
// parts separated by dots), so a login can tell one from wharfd's own
// session tokens, which have no dot.
func LooksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2
}

// SignHMAC returns a token for c signed with HS256 and secret: for tests,
// tools (wharf-bench) and backends written in Go. c.Expires is required.
func SignHMAC(secret []byte, c Claims) (string, error) {
	if c.Expires.IsZero() {
		return "", errors.New("jwtauth: SignHMAC: Claims.Expires is required")
	}
	cl := claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: c.Subject, ExpiresAt: jwt.NewNumericDate(c.Expires)},
		Channels:         c.Channels,
	}
	if c.Name != c.Subject {
		cl.Name = c.Name
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(secret)
}
