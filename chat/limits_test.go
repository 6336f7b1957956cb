package chat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"wharf/accounts"
	"wharf/iplimit"
	"wharf/packet"
)

// dialFrom dials the server from a source address of 127.0.0.0/8, a
// different client as far as per-address limits go.
func (e *env) dialFrom(t *testing.T, src string) *conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &conn{t: t, nc: nc, r: packet.NewReader(nc)}
}

// TestLoginBurstCountedBeforeCheck: a burst of parallel wrong guesses from
// one address is counted before any password is checked, so no more than
// FailuresPerUser of them are checked; and the guesser does not lock the
// user out at other addresses.
func TestLoginBurstCountedBeforeCheck(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, err := e.app.Accounts().Register(ctx, "victim", "the real password"); err != nil {
		t.Fatal(err)
	}
	attacker := iplimit.KeyOf(netip.MustParseAddr("192.0.2.66"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked, limited := 0, 0
	for range 40 {
		wg.Go(func() {
			_, _, err := e.app.Login(ctx, attacker, "victim", "a wrong guess")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == accounts.ErrInvalidCredentials:
				checked++
			case err != nil && strings.Contains(err.Error(), "rate limited"):
				limited++
			default:
				t.Errorf("guess: %v", err)
			}
		})
	}
	wg.Wait()
	if checked != 10 || limited != 30 {
		t.Fatalf("%d guesses checked and %d refused, want 10 and 30", checked, limited)
	}
	if st := e.app.Stats(); st.RefusedLoginUser != 30 {
		t.Fatalf("Stats.RefusedLoginUser = %d, want 30", st.RefusedLoginUser)
	}
	// The victim, elsewhere, still logs in; over the packet protocol too.
	home := iplimit.KeyOf(netip.MustParseAddr("198.51.100.7"))
	if _, _, err := e.app.Login(ctx, home, "victim", "the real password"); err != nil {
		t.Fatalf("the victim at another address: %v", err)
	}
	c := e.dialFrom(t, "127.0.0.3")
	if r := c.call(CodeLogin, creds{"victim", "the real password"}); r["ok"] != true {
		t.Fatalf("packet login of the victim: %v", r)
	}
}

// TestRegisterLimitPerAddress: RegistersPerIP registrations an hour from one
// address, refused past that with a code 1 refusal; another address is not
// affected.
func TestRegisterLimitPerAddress(t *testing.T) {
	e := setupWith(t, Config{RegistersPerSecond: 1000})
	c := e.dial(t)
	for i := range 20 {
		if r := c.call(CodeRegister, creds{fmt.Sprintf("reg%02d", i), "password99"}); r["ok"] != true {
			t.Fatalf("registration %d: %v", i, r)
		}
	}
	r := c.refused(CodeRegister, creds{"reg20", "password99"})
	if !strings.Contains(r["error"].(string), "register per address") {
		t.Fatalf("refusal %v does not name the limit", r)
	}
	other := e.dialFrom(t, "127.0.0.4")
	if r := other.call(CodeRegister, creds{"reg21", "password99"}); r["ok"] != true {
		t.Fatalf("registration from another address: %v", r)
	}
	e.clock.Add(3 * time.Minute) // an hour refills 20: one every 3 minutes
	if r := c.call(CodeRegister, creds{"reg22", "password99"}); r["ok"] != true {
		t.Fatalf("registration after the bucket refilled: %v", r)
	}
	if st := e.app.Stats(); st.RefusedRegister != 1 {
		t.Fatalf("Stats.RefusedRegister = %d, want 1", st.RefusedRegister)
	}
}

// TestRegisterLimitOverall: registrations from everywhere together are
// bounded (a storm from many addresses), and a refusal does not count
// against the address that made it.
func TestRegisterLimitOverall(t *testing.T) {
	e := setupWith(t, Config{RegistersPerSecond: 2})
	ctx := context.Background()
	src := func(i int) iplimit.Key { return iplimit.KeyOf(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})) }
	for i := range 4 { // the burst: twice the rate
		if _, err := e.app.Register(ctx, src(i), fmt.Sprintf("many%d", i), "password99"); err != nil {
			t.Fatalf("registration %d within the burst: %v", i, err)
		}
	}
	_, err := e.app.Register(ctx, src(9), "many9", "password99")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Limit != "register overall" {
		t.Fatalf("fifth registration: %v, want the overall limit", err)
	}
	e.clock.Add(time.Second) // two more
	for i := range 2 {
		if _, err := e.app.Register(ctx, src(9), fmt.Sprintf("later%d", i), "password99"); err != nil {
			t.Fatalf("registration after a second: %v", err)
		}
	}
	if st := e.app.Stats(); st.RefusedRegister != 1 {
		t.Fatalf("Stats.RefusedRegister = %d, want 1", st.RefusedRegister)
	}
}

// login registers and logs in name on c.
func login(t *testing.T, c *conn, name string) string {
	t.Helper()
	c.call(CodeRegister, creds{name, "password99"})
	r := c.call(CodeLogin, creds{name, "password99"})
	if r["ok"] != true {
		t.Fatalf("login %s: %v", name, r)
	}
	return r["token"].(string)
}

// TestSayLimits: one user may say SayBurst messages at once and SayRate a
// second; the flood is refused with a code 1 refusal and counted.
func TestSayLimits(t *testing.T) {
	e := setup(t)
	c := e.dial(t)
	login(t, c, "chatty")
	say := func() (uint16, map[string]any) {
		packet.WritePacket(c.nc, CodeSay, []byte(`{"text":"hi"}`))
		for {
			code, m := c.recv()
			if code != CodeMessage { // skip our own messages coming back
				return code, m
			}
		}
	}
	for i := range 10 {
		if code, m := say(); code != CodeSay || m["ok"] != true {
			t.Fatalf("say %d within the burst: %d %v", i, code, m)
		}
	}
	code, m := say()
	if code != packet.CodeError || !strings.Contains(m["error"].(string), "say per user") {
		t.Fatalf("say past the burst: %d %v, want refused", code, m)
	}
	e.clock.Add(time.Second)
	if code, m := say(); code != CodeSay || m["ok"] != true {
		t.Fatalf("say a second later: %d %v", code, m)
	}
	if st := e.app.Stats(); st.RefusedSayUser != 1 {
		t.Fatalf("Stats.RefusedSayUser = %d, want 1", st.RefusedSayUser)
	}
}

// TestFanoutCap: says that would deliver more than MaxFanout messages a
// second are refused, whoever says them.
func TestFanoutCap(t *testing.T) {
	e := setupWith(t, Config{MaxFanout: 10})
	var cs []*conn
	for i := range 4 {
		c := e.dial(t)
		login(t, c, fmt.Sprintf("fan%d", i))
		cs = append(cs, c)
	}
	// 4 connections online: two says (8 deliveries) fit, a third does not.
	for i := range 2 {
		if _, err := e.app.Say(t.Context(), iplimit.Key{}, accounts.User{ID: int64(100 + i), Username: "x"}, "hello all"); err != nil {
			t.Fatalf("say %d: %v", i, err)
		}
	}
	_, err := e.app.Say(t.Context(), iplimit.Key{}, accounts.User{ID: 200, Username: "y"}, "hello again")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Limit != "fan-out" {
		t.Fatalf("third say: %v, want the fan-out limit", err)
	}
	if st := e.app.Stats(); st.RefusedFanout != 1 {
		t.Fatalf("Stats.RefusedFanout = %d, want 1", st.RefusedFanout)
	}
}

func TestFormatCharactersRefused(t *testing.T) {
	e := setup(t)
	u := accounts.User{ID: 7, Username: "u"}
	for _, text := range []string{
		"abc\u202edcba",        // right-to-left override
		"zero\u200bwidth",      // zero-width space
		"bom\ufeff",            // byte order mark
		"para\u2029graph",      // paragraph separator
		"isolate\u2066x\u2069", // left-to-right isolate
	} {
		if _, err := e.app.Say(t.Context(), iplimit.Key{}, u, text); err != ErrBadText {
			t.Errorf("Say(%q) = %v, want ErrBadText", text, err)
		}
		e.clock.Add(time.Second)
	}
	for _, text := range []string{
		"family \U0001F468\u200d\U0001F469\u200d\U0001F467", // emoji joined with ZWJ
		"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  // Persian with a ZWNJ
		"line one\nline two\ttab",
	} {
		if _, err := e.app.Say(t.Context(), iplimit.Key{}, u, text); err != nil {
			t.Errorf("Say(%q) = %v, want it accepted", text, err)
		}
		e.clock.Add(time.Second)
	}
}

// TestPacketSessionEnds: a packet login ends with its session: logged out
// here, logged out elsewhere (the database), or expired.
func TestPacketSessionEnds(t *testing.T) {
	e := setup(t)
	c := e.dial(t)
	ended := 0 // code 19 pushes
	sayOK := func() bool {
		packet.WritePacket(c.nc, CodeSay, []byte(`{"text":"still here?"}`))
		for {
			code, m := c.recv()
			switch code {
			case CodeMessage:
				continue
			case CodeSessionEnded:
				ended++
				continue
			}
			return m["ok"] == true
		}
	}
	token := login(t, c, "leaver")
	if !sayOK() {
		t.Fatal("say after login refused")
	}
	if err := e.app.Logout(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	if sayOK() {
		t.Fatal("say after App.Logout accepted")
	}

	token = login(t, c, "leaver")
	e.clock.Add(time.Second)
	if err := e.app.Accounts().Logout(context.Background(), token); err != nil { // as another process would
		t.Fatal(err)
	}
	if sayOK() {
		t.Fatal("say after a logout in the database accepted")
	}

	login(t, c, "leaver")
	e.clock.Add(e.app.Accounts().Config().SessionTTL + time.Second)
	if sayOK() {
		t.Fatal("say after the session expired accepted")
	}
	if st := e.app.Stats(); st.SessionsEnded != 3 || ended != 3 {
		t.Fatalf("Stats.SessionsEnded = %d, code 19 pushes %d; want 3", st.SessionsEnded, ended)
	}
}
