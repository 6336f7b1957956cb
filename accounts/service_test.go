package accounts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"wharf/internal/testkit"

	"golang.org/x/crypto/bcrypt"
)

func TestRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		clock := newFakeClock()
		svc := newService(t, st, Config{Clock: clock.Now})
		const pw = "correct-horse-battery"
		sec := newSecrets(t, pw)

		alice, err := svc.Register(ctx, "Alice", pw)
		if sec.check(err) != nil {
			t.Fatalf("Register: %v", err)
		}
		if alice.ID <= 0 || alice.Username != "Alice" || !alice.CreatedAt.Equal(storeTime(clock.Now())) {
			t.Fatalf("Register returned %+v", alice)
		}

		for _, name := range []string{"Alice", "alice", "ALICE"} {
			u, token, err := svc.Login(ctx, name, pw)
			if sec.check(err) != nil {
				t.Fatalf("Login(%s): %v", name, err)
			}
			sec.add(token)
			if u != alice {
				t.Fatalf("Login(%s) = %+v, want %+v", name, u, alice)
			}
			if len(token) != 43 {
				t.Fatalf("token %d characters, want 43", len(token))
			}
			got, err := svc.Authenticate(ctx, token)
			if sec.check(err) != nil || got != alice {
				t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, alice)
			}

			// Only SHA-256 of the token is stored.
			sum := sha256.Sum256([]byte(token))
			sess, err := st.SessionByTokenHash(ctx, sum[:])
			if sec.check(err) != nil {
				t.Fatalf("SessionByTokenHash: %v", err)
			}
			want := Session{TokenHash: sum[:], UserID: alice.ID,
				CreatedAt: storeTime(clock.Now()), ExpiresAt: storeTime(clock.Now().Add(DefaultSessionTTL))}
			if !bytes.Equal(sess.TokenHash, want.TokenHash) || sess.UserID != want.UserID ||
				!sess.CreatedAt.Equal(want.CreatedAt) || !sess.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("stored session %+v, want %+v", sess, want)
			}

			if err := sec.check(svc.Logout(ctx, token)); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			if _, err := svc.Authenticate(ctx, token); sec.check(err) != ErrInvalidToken {
				t.Fatalf("Authenticate after Logout: %v, want ErrInvalidToken", err)
			}
			if err := sec.check(svc.Logout(ctx, token)); err != nil {
				t.Fatalf("second Logout: %v, want nil", err)
			}
		}

		bob, err := svc.Register(ctx, "bob", "another-password")
		if sec.check(err) != nil {
			t.Fatalf("Register bob: %v", err)
		}
		if bob.ID == alice.ID {
			t.Fatalf("bob and alice share ID %d", bob.ID)
		}
		if n, err := st.CountUsers(ctx); sec.check(err) != nil || n != 2 {
			t.Fatalf("CountUsers = %d, %v; want 2", n, err)
		}
		if u, err := st.UserByID(ctx, bob.ID); sec.check(err) != nil || u != bob {
			t.Fatalf("UserByID = %+v, %v; want %+v", u, err, bob)
		}
		if _, err := st.UserByID(ctx, bob.ID+100); sec.check(err) != ErrNotFound {
			t.Fatalf("UserByID(unknown): %v, want ErrNotFound", err)
		}
	})
}

func TestMalformedTokens(t *testing.T) {
	st := openStore(t, "sqlite://:memory:", StoreOptions{})
	svc := newService(t, st, Config{})
	ctx := context.Background()
	valid := strings.Repeat("A", 43)
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"short", valid[:42]},
		{"long", valid + "A"},
		{"padded", valid[:42] + "="},
		{"standard base64 alphabet", "+" + valid[1:]},
		{"non-zero padding bits", valid[:42] + "B"},
		{"unicode", "é" + valid[2:]},
		{"well-formed but unknown", valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := svc.Authenticate(ctx, tt.token); err != ErrInvalidToken {
				t.Fatalf("Authenticate: %v, want ErrInvalidToken", err)
			}
			err := svc.Logout(ctx, tt.token)
			if tt.token == valid {
				if err != nil {
					t.Fatalf("Logout of an unknown well-formed token: %v, want nil", err)
				}
			} else if err != ErrInvalidToken {
				t.Fatalf("Logout: %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		clock := newFakeClock()
		const ttl = time.Hour
		svc := newService(t, st, Config{Clock: clock.Now, SessionTTL: ttl})
		const pw = "expiry-password"
		sec := newSecrets(t, pw)
		if _, err := svc.Register(ctx, "carol", pw); sec.check(err) != nil {
			t.Fatal(err)
		}
		_, oldToken, err := svc.Login(ctx, "carol", pw)
		if sec.check(err) != nil {
			t.Fatal(err)
		}
		clock.Add(ttl / 2)
		_, newToken, err := svc.Login(ctx, "carol", pw)
		if sec.check(err) != nil {
			t.Fatal(err)
		}
		sec.add(oldToken, newToken)

		// Just before expiry the old session works; at expiry it does not.
		clock.Add(ttl/2 - time.Microsecond)
		if _, err := svc.Authenticate(ctx, oldToken); sec.check(err) != nil {
			t.Fatalf("Authenticate 1µs before expiry: %v", err)
		}
		if n, err := svc.PurgeExpired(ctx); sec.check(err) != nil || n != 0 {
			t.Fatalf("PurgeExpired before expiry = %d, %v; want 0", n, err)
		}
		if _, until, err := svc.AuthenticateSession(ctx, oldToken); sec.check(err) != nil || !clock.Now().Before(until) || until.Sub(clock.Now()) > time.Microsecond {
			t.Fatalf("AuthenticateSession 1µs before expiry: ends %v (now %v), %v", until, clock.Now(), err)
		}
		clock.Add(time.Microsecond)
		if _, _, err := svc.AuthenticateSession(ctx, oldToken); sec.check(err) != ErrInvalidToken {
			t.Fatalf("AuthenticateSession at expiry: %v, want ErrInvalidToken", err)
		}
		if _, err := svc.Authenticate(ctx, oldToken); sec.check(err) != ErrInvalidToken {
			t.Fatalf("Authenticate at expiry: %v, want ErrInvalidToken", err)
		}
		if _, err := svc.Authenticate(ctx, newToken); sec.check(err) != nil {
			t.Fatalf("Authenticate of the newer session: %v", err)
		}

		if n, err := svc.PurgeExpired(ctx); sec.check(err) != nil || n != 1 {
			t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
		}
		old := sha256.Sum256([]byte(oldToken))
		if _, err := st.SessionByTokenHash(ctx, old[:]); sec.check(err) != ErrNotFound {
			t.Fatalf("expired session after purge: %v, want ErrNotFound", err)
		}
		if _, err := svc.Authenticate(ctx, newToken); sec.check(err) != nil {
			t.Fatalf("purge removed a live session: %v", err)
		}
		if n, err := svc.PurgeExpired(ctx); sec.check(err) != nil || n != 0 {
			t.Fatalf("second PurgeExpired = %d, %v; want 0", n, err)
		}
	})
}

func TestRegisterRejectsInvalidInput(t *testing.T) {
	st := openStore(t, "sqlite://:memory:", StoreOptions{})
	svc := newService(t, st, Config{})
	tests := []struct {
		name, username, password string
		field                    string
		is                       error
	}{
		{"short username", "ab", "good-password", "username", ErrInvalidUsername},
		{"bad character", "al ice", "good-password", "username", ErrInvalidUsername},
		{"short password", "alice", "1234567", "password", ErrInvalidPassword},
		{"73-byte password", "alice", strings.Repeat("p", 73), "password", ErrInvalidPassword},
	}
	sec := newSecrets(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec.add(tt.password)
			_, err := svc.Register(context.Background(), tt.username, tt.password)
			sec.check(err)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field || !errors.Is(err, tt.is) {
				t.Fatalf("Register: %v, want a *ValidationError for %s", err, tt.field)
			}
		})
	}
	if n, _ := st.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d users created by invalid registrations", n)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		svc := newService(t, st, Config{})
		var compares atomic.Int32
		svc.compare = func(hash, pw []byte) error {
			compares.Add(1)
			return bcrypt.CompareHashAndPassword(hash, pw)
		}
		const pw = "the-right-password"
		sec := newSecrets(t, pw, "the-wrong-password", "unknown-user-pw")
		if _, err := svc.Register(ctx, "dave", pw); sec.check(err) != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name, username, password string
			compares                 int32 // bcrypt comparisons expected
		}{
			{"wrong password", "dave", "the-wrong-password", 1},
			{"unknown user", "nobody", "unknown-user-pw", 1},
			{"unknown user, case variant", "NOBODY", "unknown-user-pw", 1},
			{"malformed username", "d", "the-right-password", 0},
			{"malformed password", "dave", "short", 0},
			{"password over 72 bytes", "dave", pw + strings.Repeat("x", 72), 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				compares.Store(0)
				u, token, err := svc.Login(ctx, tt.username, tt.password)
				sec.check(err)
				if err != ErrInvalidCredentials || err.Error() != "accounts: invalid username or password" {
					t.Fatalf("Login: %v, want exactly ErrInvalidCredentials", err)
				}
				if u != (User{}) || token != "" {
					t.Fatalf("failed Login returned user %+v and token %q", u, token)
				}
				if got := compares.Load(); got != tt.compares {
					t.Fatalf("%d bcrypt comparisons, want %d", got, tt.compares)
				}
			})
		}
	})
}

func TestStoredHashIsBcrypt(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		svc := newService(t, st, Config{})
		const pw = "s3cret-passw0rd"
		sec := newSecrets(t, pw)
		if _, err := svc.Register(ctx, "Erin", pw); sec.check(err) != nil {
			t.Fatal(err)
		}
		name, hash := rawUserRow(t, st, "Erin")
		if name != "Erin" {
			t.Fatalf("stored name %q, want %q", name, "Erin")
		}
		if bytes.Contains(hash, []byte(pw)) {
			t.Fatal("the stored hash contains the password")
		}
		if !bytes.HasPrefix(hash, []byte("$2a$")) || len(hash) != 60 {
			t.Fatalf("stored hash %q is not a bcrypt hash", hash)
		}
		if cost, err := bcrypt.Cost(hash); err != nil || cost != bcrypt.MinCost {
			t.Fatalf("bcrypt cost %d, %v; want %d", cost, err, bcrypt.MinCost)
		}
		if err := bcrypt.CompareHashAndPassword(hash, []byte(pw)); err != nil {
			t.Fatalf("the stored hash does not verify the password: %v", err)
		}
		// Same password, different user: different salt, different hash.
		if _, err := svc.Register(ctx, "frank", pw); sec.check(err) != nil {
			t.Fatal(err)
		}
		if _, hash2 := rawUserRow(t, st, "frank"); bytes.Equal(hash, hash2) {
			t.Fatal("two users with one password have the same hash: no salt")
		}
	})
}

func TestConcurrentRegisterSameName(t *testing.T) {
	const n = 50
	tests := []struct {
		name  string
		names func(i int) string
	}{
		{"same case", func(int) string { return "racer" }},
		{"mixed case", func(i int) string {
			return []string{"racer", "RACER", "Racer", "rAcEr"}[i%4]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, st Store) {
				ctx := context.Background()
				svc := newService(t, st, Config{})
				sec := newSecrets(t)

				run := func(t *testing.T, register func(i int) error) {
					var (
						wg              sync.WaitGroup
						start           = make(chan struct{})
						ok, taken, errs atomic.Int32
					)
					for i := range n {
						wg.Go(func() {
							<-start
							switch err := sec.check(register(i)); {
							case err == nil:
								ok.Add(1)
							case errors.Is(err, ErrUsernameTaken):
								taken.Add(1)
							default:
								errs.Add(1)
								t.Errorf("unexpected error: %v", err)
							}
						})
					}
					close(start)
					wg.Wait()
					if ok.Load() != 1 || taken.Load() != n-1 {
						t.Fatalf("%d successes and %d ErrUsernameTaken (%d other errors), want 1 and %d",
							ok.Load(), taken.Load(), errs.Load(), n-1)
					}
				}
				// Through the Service (pre-check plus unique index) and
				// straight to the Store (the unique index alone).
				t.Run("service", func(t *testing.T) {
					run(t, func(i int) error {
						pw := fmt.Sprintf("password-%02d", i)
						sec.add(pw)
						_, err := svc.Register(ctx, tt.names(i), pw)
						return err
					})
				})
				t.Run("store", func(t *testing.T) {
					run(t, func(i int) error {
						_, err := st.CreateUser(ctx, "store-"+tt.names(i), []byte("hash"), time.Now())
						return err
					})
				})
				if c, err := st.CountUsers(ctx); err != nil || c != 2 {
					t.Fatalf("CountUsers = %d, %v; want 2", c, err)
				}
			})
		})
	}
}

// TestConcurrentMixedLoad runs registrations, logins, authentications and
// logouts from many goroutines at once. On SQLite any SQLITE_BUSY would
// surface here as an error.
func TestConcurrentMixedLoad(t *testing.T) {
	const workers = 20
	duration := 3 * time.Second
	if testing.Short() {
		duration = 500 * time.Millisecond
	}
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		svc := newService(t, st, Config{})
		sec := newSecrets(t)
		deadline := time.Now().Add(duration)
		var (
			wg         sync.WaitGroup
			registered atomic.Int64
			ops        [4]atomic.Int64
		)
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				type account struct{ name, pw, token string }
				var mine []account
				for i := 0; time.Now().Before(deadline); i++ {
					op := rng.IntN(4)
					if len(mine) == 0 {
						op = 0
					}
					ops[op].Add(1)
					switch op {
					case 0: // register
						a := account{name: fmt.Sprintf("w%02d_%d", w, i), pw: fmt.Sprintf("pw-%d-%d-secret", w, i)}
						sec.add(a.pw)
						if _, err := svc.Register(ctx, a.name, a.pw); sec.check(err) != nil {
							t.Errorf("Register: %v", err)
							return
						}
						registered.Add(1)
						mine = append(mine, a)
					case 1: // login
						a := &mine[rng.IntN(len(mine))]
						_, token, err := svc.Login(ctx, a.name, a.pw)
						if sec.check(err) != nil {
							t.Errorf("Login: %v", err)
							return
						}
						sec.add(token)
						a.token = token
					case 2: // authenticate
						a := mine[rng.IntN(len(mine))]
						if a.token == "" {
							continue
						}
						u, err := svc.Authenticate(ctx, a.token)
						if sec.check(err) != nil || u.Username != a.name {
							t.Errorf("Authenticate = %+v, %v; want %s", u, err, a.name)
							return
						}
					case 3: // logout
						a := &mine[rng.IntN(len(mine))]
						if a.token == "" {
							continue
						}
						if err := sec.check(svc.Logout(ctx, a.token)); err != nil {
							t.Errorf("Logout: %v", err)
							return
						}
						a.token = ""
					}
				}
			})
		}
		wg.Wait()
		if n, err := st.CountUsers(ctx); err != nil || n != registered.Load() {
			t.Fatalf("CountUsers = %d, %v; want %d", n, err, registered.Load())
		}
		t.Logf("%d registrations, %d logins, %d authentications, %d logouts in %v",
			ops[0].Load(), ops[1].Load(), ops[2].Load(), ops[3].Load(), duration)
	})
}

func TestMaxConcurrentHashes(t *testing.T) {
	const limit = 3
	st := openStore(t, "sqlite://:memory:", StoreOptions{})
	svc := newService(t, st, Config{MaxConcurrentHashes: limit})
	ctx := context.Background()
	if _, err := svc.Register(ctx, "grace", "grace-password"); err != nil {
		t.Fatal(err)
	}

	var inFlight, peak atomic.Int32
	enter := func() {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Hold the slot long enough for the others to pile up.
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
	}
	svc.generate = func(pw []byte, cost int) ([]byte, error) {
		enter()
		return bcrypt.GenerateFromPassword(pw, cost)
	}
	svc.compare = func(hash, pw []byte) error {
		enter()
		return bcrypt.CompareHashAndPassword(hash, pw)
	}

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			for j := range 5 {
				var err error
				switch (i + j) % 3 {
				case 0:
					_, err = svc.Register(ctx, fmt.Sprintf("user%d_%d", i, j), "some-password")
				case 1:
					_, _, err = svc.Login(ctx, "grace", "grace-password")
				case 2:
					if _, _, err = svc.Login(ctx, "nobody", "some-password"); err == ErrInvalidCredentials {
						err = nil
					}
				}
				if err != nil {
					t.Errorf("call %d.%d: %v", i, j, err)
				}
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != limit {
		t.Fatalf("at most %d bcrypt computations ran at once, want exactly MaxConcurrentHashes = %d", p, limit)
	}
}

func TestHashWaitRespectsContext(t *testing.T) {
	st := openStore(t, "sqlite://:memory:", StoreOptions{})
	svc := newService(t, st, Config{MaxConcurrentHashes: 1})
	if _, err := svc.Register(context.Background(), "heidi", "heidi-password"); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	svc.compare = func(hash, pw []byte) error {
		close(entered)
		<-release
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	done := make(chan error)
	go func() {
		_, _, err := svc.Login(context.Background(), "heidi", "heidi-password")
		done <- err
	}()
	<-entered // the only slot is taken

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := svc.Login(ctx, "heidi", "heidi-password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Login while the slot is busy and ctx is cancelled: %v, want context.Canceled", err)
	}
	if _, err := svc.Register(ctx, "ivan", "ivan-password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Register while the slot is busy and ctx is cancelled: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the Login holding the slot: %v", err)
	}
}

// TestLoginBeforeRegister: with the only hash slot busy, a waiting login
// gets it before registrations that were waiting longer, and registrations
// past RegisterWait fail with ErrBusy (counted) instead of queueing forever.
func TestLoginBeforeRegister(t *testing.T) {
	st := openStore(t, "sqlite://:memory:", StoreOptions{})
	svc := newService(t, st, Config{MaxConcurrentHashes: 1, RegisterWait: 300 * time.Millisecond})
	ctx := context.Background()
	if _, err := svc.Register(ctx, "judy", "judy-password"); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	svc.generate = func(pw []byte, cost int) ([]byte, error) {
		mu.Lock()
		order = append(order, "register")
		mu.Unlock()
		<-release
		return bcrypt.GenerateFromPassword(pw, cost)
	}
	svc.compare = func(hash, pw []byte) error {
		mu.Lock()
		order = append(order, "login")
		mu.Unlock()
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	regs := make(chan error, 3)
	for i := range 3 { // the first takes the slot and holds it; two wait
		go func() {
			_, err := svc.Register(ctx, fmt.Sprintf("storm%d", i), "storm-password")
			regs <- err
		}()
		if i == 0 {
			waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
		}
	}
	waitFor(t, func() bool { return svc.HashStats().WaitingRegistrations == 2 })
	logged := make(chan error, 1)
	go func() {
		_, _, err := svc.Login(ctx, "judy", "judy-password")
		logged <- err
	}()
	waitFor(t, func() bool { return svc.HashStats().WaitingLogins == 1 })
	close(release) // the slot goes to the login, then to whichever registration still waits
	if err := <-logged; err != nil {
		t.Fatalf("login: %v", err)
	}
	mu.Lock()
	if len(order) < 2 || order[1] != "login" {
		t.Fatalf("hash order %v: the login did not get the slot first", order)
	}
	mu.Unlock()
	var busy int
	for range 3 {
		if err := <-regs; errors.Is(err, ErrBusy) {
			busy++
		} else if err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	if got := svc.HashStats().BusyRegistrations; got != uint64(busy) {
		t.Fatalf("BusyRegistrations = %d, want the %d refusals", got, busy)
	}
}

// TestRegisterWaitDeadline: a registration that cannot get a slot within
// RegisterWait fails with ErrBusy at about that time.
func TestRegisterWaitDeadline(t *testing.T) {
	st := openStore(t, "sqlite://:memory:", StoreOptions{})
	svc := newService(t, st, Config{MaxConcurrentHashes: 1, RegisterWait: 50 * time.Millisecond})
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	svc.generate = func(pw []byte, cost int) ([]byte, error) {
		entered <- struct{}{}
		<-release
		return bcrypt.GenerateFromPassword(pw, cost)
	}
	go svc.Register(context.Background(), "first", "first-password")
	<-entered
	start := time.Now()
	_, err := svc.Register(context.Background(), "second", "second-password")
	close(release)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Register with the slot busy past RegisterWait: %v, want ErrBusy", err)
	}
	if since := time.Since(start); since < 50*time.Millisecond {
		t.Fatalf("gave up after %v, before RegisterWait", since)
	}
}

func waitFor(t *testing.T, cond func() bool) { testkit.Eventually(t, "the condition", cond) }

func TestNewServiceConfig(t *testing.T) {
	st := openStore(t, "sqlite://:memory:", StoreOptions{})
	tests := []struct {
		name  string
		cfg   Config
		field string // "" if valid
	}{
		{"zero is defaults", Config{BcryptCost: bcrypt.MinCost}, ""},
		{"cost too low", Config{BcryptCost: 3}, "Config.BcryptCost"},
		{"cost too high", Config{BcryptCost: 32}, "Config.BcryptCost"},
		{"negative TTL", Config{BcryptCost: bcrypt.MinCost, SessionTTL: -time.Second}, "Config.SessionTTL"},
		{"negative hashes", Config{BcryptCost: bcrypt.MinCost, MaxConcurrentHashes: -1}, "Config.MaxConcurrentHashes"},
		{"negative wait", Config{BcryptCost: bcrypt.MinCost, RegisterWait: -1}, "Config.RegisterWait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := NewService(st, tt.cfg)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				c := svc.Config()
				if c.SessionTTL != DefaultSessionTTL || c.MaxConcurrentHashes < 1 || c.Clock == nil {
					t.Fatalf("defaults not filled in: %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("NewService: %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
	if _, err := NewService(nil, Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewService(nil): %v, want ErrInvalidConfig", err)
	}
	if d := DefaultConfig(); d.BcryptCost != bcrypt.DefaultCost || d.SessionTTL != 24*time.Hour {
		t.Fatalf("DefaultConfig = %+v", d)
	}
}

// TestDeriveSession: a derived token logs in the same user until the
// parent session's end, and is logged out on its own.
func TestDeriveSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		clock := newFakeClock()
		svc := newService(t, st, Config{Clock: clock.Now, SessionTTL: time.Hour})
		const pw = "derive-password"
		sec := newSecrets(t, pw)
		if _, err := svc.Register(ctx, "dora", pw); sec.check(err) != nil {
			t.Fatal(err)
		}
		u, parent, err := svc.Login(ctx, "dora", pw)
		if sec.check(err) != nil {
			t.Fatal(err)
		}
		clock.Add(10 * time.Minute)
		derived, until, err := svc.DeriveSession(ctx, parent)
		sec.add(parent, derived)
		if sec.check(err) != nil || derived == parent {
			t.Fatalf("DeriveSession: %v", err)
		}
		got, dUntil, err := svc.AuthenticateSession(ctx, derived)
		if sec.check(err) != nil || got.ID != u.ID || !dUntil.Equal(until) {
			t.Fatalf("the derived session: %+v until %v (parent %v), %v", got, dUntil, until, err)
		}
		if err := svc.Logout(ctx, derived); sec.check(err) != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, parent); sec.check(err) != nil {
			t.Fatalf("the parent after the derived one's logout: %v", err)
		}
		if _, _, err := svc.DeriveSession(ctx, "nope"); err != ErrInvalidToken {
			t.Fatalf("DeriveSession of a bad token: %v", err)
		}
	})
}
