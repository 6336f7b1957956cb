package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Config configures a Service. The zero value of each field selects its
// default; DefaultConfig returns them all filled in.
type Config struct {
	// BcryptCost is the bcrypt work factor for new password hashes, from
	// bcrypt.MinCost (4) to bcrypt.MaxCost (31); each step doubles the
	// time. Default bcrypt.DefaultCost (10): about 50 ms of one core per
	// hash. Tests use bcrypt.MinCost. Existing hashes keep the cost they
	// were made with and still verify after a change.
	BcryptCost int

	// SessionTTL is how long a session lasts after Login. It is fixed, not
	// sliding: using a session does not extend it. Default 24h.
	SessionTTL time.Duration

	// MaxConcurrentHashes bounds how many bcrypt computations (hashing at
	// Register, comparing at Login) run at once across the Service. A
	// login flood then queues here instead of taking every core from the
	// event loops. A waiting Login gets the next free slot before any
	// waiting Register, so a storm of registrations delays logins by at
	// most the hashes already running. Default runtime.NumCPU().
	MaxConcurrentHashes int

	// LoginWait and RegisterWait bound how long Login and Register wait
	// for a hash slot (as does their ctx); past it they fail with ErrBusy,
	// which callers answer with "try again later". Defaults 5s and 1s.
	LoginWait, RegisterWait time.Duration

	// Clock returns the current time; tests inject a fake one to expire
	// sessions. Default time.Now.
	Clock func() time.Time
}

// DefaultSessionTTL is Config.SessionTTL's default.
const DefaultSessionTTL = 24 * time.Hour

// DefaultConfig returns a Config with every field set to its default.
func DefaultConfig() Config {
	return Config{
		BcryptCost:          bcrypt.DefaultCost,
		SessionTTL:          DefaultSessionTTL,
		MaxConcurrentHashes: runtime.NumCPU(),
		LoginWait:           5 * time.Second,
		RegisterWait:        time.Second,
		Clock:               time.Now,
	}
}

// withDefaults validates c, naming the bad field, and fills in zero fields.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.BcryptCost == 0 {
		c.BcryptCost = d.BcryptCost
	}
	if c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost {
		return c, configError("Config.BcryptCost", "must be %d to %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, c.BcryptCost)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = d.SessionTTL
	}
	if c.SessionTTL < 0 {
		return c, configError("Config.SessionTTL", "must be positive, got %v", c.SessionTTL)
	}
	if c.MaxConcurrentHashes == 0 {
		c.MaxConcurrentHashes = d.MaxConcurrentHashes
	}
	if c.MaxConcurrentHashes < 0 {
		return c, configError("Config.MaxConcurrentHashes", "must be positive, got %d", c.MaxConcurrentHashes)
	}
	if c.LoginWait < 0 {
		return c, configError("Config.LoginWait", "must not be negative, got %v", c.LoginWait)
	}
	if c.RegisterWait < 0 {
		return c, configError("Config.RegisterWait", "must not be negative, got %v", c.RegisterWait)
	}
	if c.LoginWait == 0 {
		c.LoginWait = d.LoginWait
	}
	if c.RegisterWait == 0 {
		c.RegisterWait = d.RegisterWait
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	return c, nil
}

// tokenBytes is the number of random bytes in a session token: 256 bits, far
// beyond guessing.
const tokenBytes = 32

// tokenEncoding encodes tokens: URL- and cookie-safe, no padding, so a token
// is always tokenLen characters.
var tokenEncoding = base64.RawURLEncoding

// tokenLen is the length of a token string.
var tokenLen = tokenEncoding.EncodedLen(tokenBytes)

// Service implements registration, login and sessions on a Store. It holds no
// per-user state, so one Service serves every transport (TCP, KCP, HTTP) and
// any number of processes may run Services on the same database.
//
// All methods are safe for concurrent use by any number of goroutines. They
// block on the database and on bcrypt, so callers on an event loop must run
// them on a worker goroutine.
type Service struct {
	store Store
	cfg   Config // with defaults filled in; read-only

	// slots holds the cfg.MaxConcurrentHashes bcrypt slots.
	slots *hashSlots

	// dummyHash is a bcrypt hash of a random password at cfg.BcryptCost.
	// Login compares against it when the user does not exist, so an unknown
	// name costs the same time as a wrong password. Read-only.
	dummyHash []byte

	// generate and compare are bcrypt's functions; tests replace them to
	// observe concurrency. Set before the Service is shared, then
	// read-only.
	generate func(password []byte, cost int) ([]byte, error)
	compare  func(hash, password []byte) error

	busy [2]atomic.Uint64 // ErrBusy refusals by hashPriority
}

// NewService returns a Service on store. It computes one bcrypt hash for
// Login's dummy comparison, so it takes as long as one Register. The caller
// keeps ownership of store and closes it after the last use of the Service.
func NewService(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, configError("store", "must not be nil")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:    store,
		cfg:      cfg,
		slots:    newHashSlots(cfg.MaxConcurrentHashes),
		generate: bcrypt.GenerateFromPassword,
		compare:  bcrypt.CompareHashAndPassword,
	}
	var pw [MaxPasswordLen / 2]byte
	rand.Read(pw[:])
	s.dummyHash, err = bcrypt.GenerateFromPassword(pw[:], cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("accounts: dummy hash: %w", err)
	}
	return s, nil
}

// Config returns the Service's configuration with defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Store returns the Service's Store.
func (s *Service) Store() Store { return s.store }

// withHashSlot runs fn while holding one of the MaxConcurrentHashes slots,
// waiting for one at priority pri at most wait (ErrBusy) or until ctx is
// done.
func (s *Service) withHashSlot(ctx context.Context, pri hashPriority, wait time.Duration, fn func()) error {
	if err := s.slots.acquire(ctx, pri, wait); err != nil {
		if err == ErrBusy {
			s.busy[pri].Add(1)
		}
		return err
	}
	defer s.slots.release()
	fn()
	return nil
}

// HashStats are the Service's hash-slot counters.
type HashStats struct {
	WaitingLogins        int    `json:"waiting_logins"`        // logins waiting for a slot now
	WaitingRegistrations int    `json:"waiting_registrations"` // registrations waiting for a slot now
	BusyLogins           uint64 `json:"busy_logins"`           // logins refused with ErrBusy
	BusyRegistrations    uint64 `json:"busy_registrations"`    // registrations refused with ErrBusy
}

// HashStats returns the hash-slot counters.
func (s *Service) HashStats() HashStats {
	wl, wr := s.slots.load()
	return HashStats{WaitingLogins: wl, WaitingRegistrations: wr, BusyLogins: s.busy[priLogin].Load(), BusyRegistrations: s.busy[priRegister].Load()}
}

// Register validates username and password, hashes the password with bcrypt
// and creates the user.
//
// Errors: a *ValidationError (errors.Is ErrInvalidUsername or
// ErrInvalidPassword), ErrUsernameTaken if the name exists in any letter
// case, the ctx error if it ends while waiting for a hash slot, or a store
// error. A name that is already taken is detected before hashing, so a flood
// of duplicate registrations costs no bcrypt time; the database's unique
// index still settles races between concurrent registrations.
func (s *Service) Register(ctx context.Context, username, password string) (User, error) {
	if err := ValidateUsername(username); err != nil {
		return User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	if _, _, err := s.store.UserByName(ctx, username); err == nil {
		return User{}, ErrUsernameTaken
	} else if !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	var (
		hash []byte
		herr error
	)
	if err := s.withHashSlot(ctx, priRegister, s.cfg.RegisterWait, func() {
		hash, herr = s.generate([]byte(password), s.cfg.BcryptCost)
	}); err != nil {
		return User{}, err
	}
	if herr != nil {
		// bcrypt's errors concern the cost or the length, never quote
		// the password; validation has ruled both out anyway.
		return User{}, fmt.Errorf("accounts: hash password: %w", herr)
	}
	return s.store.CreateUser(ctx, username, hash, s.cfg.Clock())
}

// Login checks username and password and, if they match, starts a session.
// It returns the user and the session token: 32 random bytes in unpadded
// base64url (43 characters), to be handed to the client and presented to
// Authenticate. Only SHA-256 of the token is stored.
//
// A wrong password, an unknown username and malformed input all return
// ErrInvalidCredentials, with the same message. An unknown (well-formed)
// username still costs one bcrypt comparison, against a dummy hash, so the
// response time does not reveal whether the name exists. Malformed input is
// rejected before any lookup or hashing: its timing can only reveal that it
// is malformed, which the client already knows. Other errors (ctx done, the
// database down) are returned as they are, so a caller can tell "try again
// later" from "wrong password".
func (s *Service) Login(ctx context.Context, username, password string) (User, string, error) {
	if ValidateUsername(username) != nil || ValidatePassword(password) != nil {
		return User{}, "", ErrInvalidCredentials
	}
	u, hash, err := s.store.UserByName(ctx, username)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, "", err
	}
	if !found {
		hash = s.dummyHash
	}
	var cerr error
	if err := s.withHashSlot(ctx, priLogin, s.cfg.LoginWait, func() {
		cerr = s.compare(hash, []byte(password))
	}); err != nil {
		return User{}, "", err
	}
	if !found || cerr != nil {
		return User{}, "", ErrInvalidCredentials
	}

	now := s.cfg.Clock()
	token, err := s.newSession(ctx, u.ID, now, now.Add(s.cfg.SessionTTL))
	if err != nil {
		return User{}, "", err
	}
	return u, token, nil
}

// newSession stores a session of user from now until expires and returns
// its token.
func (s *Service) newSession(ctx context.Context, user int64, now, expires time.Time) (string, error) {
	var raw [tokenBytes]byte
	rand.Read(raw[:]) // never fails (crypto/rand panics instead)
	token := tokenEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	if err := s.store.CreateSession(ctx, Session{TokenHash: sum[:], UserID: user, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", err
	}
	return token, nil
}

// DeriveSession returns a new session token for the user of token's
// session, ending when that session does: a second credential for the
// same login, which a web page can hand to another transport (the packet
// protocol over WebSocket) without exposing its cookie. Logging one out
// leaves the other; the caller logs out both. It fails like Authenticate.
func (s *Service) DeriveSession(ctx context.Context, token string) (string, time.Time, error) {
	u, expires, err := s.AuthenticateSession(ctx, token)
	if err != nil {
		return "", time.Time{}, err
	}
	derived, err := s.newSession(ctx, u.ID, s.cfg.Clock(), expires)
	if err != nil {
		return "", time.Time{}, err
	}
	return derived, expires, nil
}

// tokenHash checks that token has the shape Login gives tokens and returns
// the key its session is stored under.
func tokenHash(token string) ([]byte, bool) {
	if len(token) != tokenLen {
		return nil, false
	}
	var raw [tokenBytes]byte
	if n, err := tokenEncoding.Strict().Decode(raw[:], []byte(token)); err != nil || n != tokenBytes {
		return nil, false
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:], true
}

// Authenticate returns the user a session token belongs to. It returns
// ErrInvalidToken if the token is malformed, unknown or expired, or its user
// no longer exists, and other errors (ctx done, database down) as they are.
// It does no bcrypt work: two indexed lookups.
func (s *Service) Authenticate(ctx context.Context, token string) (User, error) {
	u, _, err := s.AuthenticateSession(ctx, token)
	return u, err
}

// AuthenticateSession is Authenticate that also returns when the session
// expires, for a caller that keeps a connection logged in with the token
// (wharfd's packet connections) and must end it then.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (User, time.Time, error) {
	key, ok := tokenHash(token)
	if !ok {
		return User{}, time.Time{}, ErrInvalidToken
	}
	sess, err := s.store.SessionByTokenHash(ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return User{}, time.Time{}, ErrInvalidToken
		}
		return User{}, time.Time{}, err
	}
	if !s.cfg.Clock().Before(sess.ExpiresAt) {
		return User{}, time.Time{}, ErrInvalidToken
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return User{}, time.Time{}, ErrInvalidToken
		}
		return User{}, time.Time{}, err
	}
	return u, sess.ExpiresAt, nil
}

// Logout ends the session of token. Ending a session that is unknown or
// already ended is not an error, so a client may log out twice; a malformed
// token returns ErrInvalidToken.
func (s *Service) Logout(ctx context.Context, token string) error {
	key, ok := tokenHash(token)
	if !ok {
		return ErrInvalidToken
	}
	return s.store.DeleteSession(ctx, key)
}

// PurgeExpired deletes the sessions that have expired by Clock's time and
// returns how many. Expired sessions are already refused by Authenticate;
// purging only keeps the table small. The daemon calls it periodically
// (hourly is plenty).
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	return s.store.DeleteExpiredSessions(ctx, s.cfg.Clock())
}
