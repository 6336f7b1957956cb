package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock  = func() time.Time { return now }
)

func pemOf(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// sign makes a token with the given method, key and claims.
func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mapClaims(kv ...any) jwt.MapClaims {
	m := jwt.MapClaims{"sub": "42", "exp": now.Add(time.Hour).Unix()}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

func TestVerifyHMAC(t *testing.T) {
	v, err := New(Config{HMACSecret: secret, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, secret, mapClaims("name", "Alice", "channels", []string{"room:vip"}))
	c, err := v.Verify(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "42" || c.Name != "Alice" || !slices.Equal(c.Channels, []string{"room:vip"}) || !c.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("claims = %+v", c)
	}
	if c, _ := v.Verify(sign(t, jwt.SigningMethodHS512, secret, mapClaims())); c.Name != "42" {
		t.Fatalf("name defaults to sub: %+v", c)
	}

	tests := []struct {
		name    string
		token   string
		expired bool
		reason  string // in the error
	}{
		{"expired", sign(t, jwt.SigningMethodHS256, secret, mapClaims("exp", now.Add(-time.Second).Unix())), true, "expired"},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, mapClaims("exp", nil)), false, "exp"},
		{"no sub", sign(t, jwt.SigningMethodHS256, secret, mapClaims("sub", nil)), false, "sub"},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, secret, mapClaims("nbf", now.Add(time.Minute).Unix())), false, "not valid yet"},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, secret, mapClaims("iat", now.Add(time.Minute).Unix())), false, "before issued"},
		{"other secret", sign(t, jwt.SigningMethodHS256, []byte("another secret, also 32 bytes long"), mapClaims()), false, "signature"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, mapClaims()), false, "signing method"},
		{"garbage", "a.b.c", false, "malformed"},
		{"tampered", good[:len(good)-2] + "AA", false, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token)
			if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) != tt.expired || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Verify: %v; want ErrInvalid (expired %v) mentioning %q", err, tt.expired, tt.reason)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Fatal("the error quotes the token")
			}
		})
	}
}

func TestVerifyPublicKeys(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name   string
		pub    any
		method jwt.SigningMethod
		key    any
	}{
		{"RS256", &rsaKey.PublicKey, jwt.SigningMethodRS256, rsaKey},
		{"PS384", &rsaKey.PublicKey, jwt.SigningMethodPS384, rsaKey},
		{"ES256", &ecKey.PublicKey, jwt.SigningMethodES256, ecKey},
		{"EdDSA", edPub, jwt.SigningMethodEdDSA, edKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := pemOf(t, tt.pub)
			v, err := New(Config{PublicKeyPEM: pub, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			if c, err := v.Verify(sign(t, tt.method, tt.key, mapClaims())); err != nil || c.Subject != "42" {
				t.Fatalf("Verify = %+v, %v", c, err)
			}
			// Key confusion: an HMAC token whose secret is the public key
			// must not verify with only a public key configured.
			if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, pub, mapClaims())); !errors.Is(err, ErrInvalid) {
				t.Fatalf("HS256 signed with the public key: %v", err)
			}
		})
	}
	// ES384 with a P-256 key: the algorithm follows the curve.
	v, _ := New(Config{PublicKeyPEM: pemOf(t, &ecKey.PublicKey), Clock: clock})
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := v.Verify(sign(t, jwt.SigningMethodES384, other, mapClaims())); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ES384 token for a P-256 key: %v", err)
	}
}

func TestIssuerAudience(t *testing.T) {
	v, _ := New(Config{HMACSecret: secret, Issuer: "backend", Audience: "wharf", Clock: clock})
	ok := sign(t, jwt.SigningMethodHS256, secret, mapClaims("iss", "backend", "aud", []string{"x", "wharf"}))
	if _, err := v.Verify(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []jwt.MapClaims{
		mapClaims("aud", "wharf"),
		mapClaims("iss", "backend"),
		mapClaims("iss", "other", "aud", "wharf"),
	} {
		if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("claims %v: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestLeeway(t *testing.T) {
	v, _ := New(Config{HMACSecret: secret, Leeway: 5 * time.Second, Clock: clock})
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, mapClaims("exp", now.Add(-3*time.Second).Unix()))); err != nil {
		t.Fatalf("3s past exp with 5s leeway: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{}, "no key"},
		{"short secret", Config{HMACSecret: []byte("short")}, "HMACSecret"},
		{"not PEM", Config{PublicKeyPEM: []byte("hello")}, "PEM"},
		{"private key", Config{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}})}, "PublicKeyPEM"},
		{"negative leeway", Config{HMACSecret: secret, Leeway: -1}, "Leeway"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error about %s", tt.name, err, tt.want)
		}
	}
}

func TestSignHMAC(t *testing.T) {
	v, _ := New(Config{HMACSecret: secret, Clock: clock})
	tok, err := SignHMAC(secret, Claims{Subject: "7", Name: "Bob", Expires: now.Add(time.Minute), Channels: []string{"room:a"}})
	if err != nil {
		t.Fatal(err)
	}
	if !LooksLikeJWT(tok) {
		t.Fatal("LooksLikeJWT is false for a JWT")
	}
	c, err := v.Verify(tok)
	if err != nil || c.Subject != "7" || c.Name != "Bob" || len(c.Channels) != 1 {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if _, err := SignHMAC(secret, Claims{Subject: "7"}); err == nil {
		t.Fatal("SignHMAC without Expires succeeded")
	}
	if LooksLikeJWT("3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") {
		t.Fatal("a session token looks like a JWT")
	}
}

func BenchmarkVerifyHS256(b *testing.B) {
	v, _ := New(Config{HMACSecret: secret, Clock: clock})
	tok, _ := SignHMAC(secret, Claims{Subject: "42", Expires: now.Add(time.Hour)})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
