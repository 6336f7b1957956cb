package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"wharf/accounts"
	"wharf/iplimit"
	"wharf/server"
)

// Message codes of the chat protocol.
const (
	CodeRegister uint16 = 5
	CodeLogin    uint16 = 6
	CodeSay      uint16 = 7
	CodeMessage  uint16 = 8
)

// Message is one chat line, as pushed with code 8.
type Message struct {
	From string `json:"from"`
	Text string `json:"text"`
	TS   int64  `json:"ts"` // Unix milliseconds
}

// Config configures an App. Zero fields take the defaults in the comments.
type Config struct {
	// MaxText is the longest message in bytes. Default 1000.
	MaxText int
	// History is how many recent messages are kept for new web viewers.
	// Default 100.
	History int
	// FailuresPerIP bounds failed logins per minute from one source
	// address (an IPv4 address or an IPv6 /64), FailuresPerUser those for
	// one username from one source, and FailuresPerUserTotal those for one
	// username from all sources together: token buckets of that size,
	// refilled over a minute. A token is taken before the password is
	// checked and given back if it was right, so a burst of parallel
	// guesses cannot pass before the first failure counts; and a guesser
	// at one address cannot lock the user out at others (only a guess storm
	// from many addresses reaches FailuresPerUserTotal). Defaults 20, 10
	// and 100.
	FailuresPerIP, FailuresPerUser, FailuresPerUserTotal int
	// RegistersPerIP bounds registrations per hour from one source
	// address (a bucket of that size, refilled over an hour). Default 20.
	RegistersPerIP int
	// RegistersPerSecond bounds registrations per second from everywhere
	// (bursts of twice that): each costs a password hash, and a storm from
	// many addresses would otherwise keep every hashing slot and worker
	// busy. Default 5 × the CPUs: about a quarter of the machine at
	// bcrypt's default cost.
	RegistersPerSecond int
	// SayRate and SayBurst bound one user's messages (per second
	// sustained, and at once); SayPerIPRate and SayPerIPBurst those from
	// one source address, whoever is logged in there. Defaults 1/s and 10,
	// 20/s and 50.
	SayRate       float64
	SayBurst      int
	SayPerIPRate  float64
	SayPerIPBurst int
	// MaxFanout bounds deliveries per second (messages said here times the
	// logged-in connections they reach): past it say is refused ("fan-out"
	// rate limit), so no set of accounts can push every connection into
	// the send-queue limits. Default 2,000,000.
	MaxFanout int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Clock; default time.Now.
	Clock func() time.Time
}

// App is the chat application. Its methods are safe for concurrent use.
type App struct {
	acc *accounts.Service
	cfg Config

	// Rate limits (see Config); safe for concurrent use.
	failIP      *iplimit.Limiter[iplimit.Key]
	failUser    *iplimit.Limiter[userAt]
	failUserAll *iplimit.Limiter[string]
	registerIP  *iplimit.Limiter[iplimit.Key]
	registerAll *iplimit.Limiter[struct{}]
	sayUser     *iplimit.Limiter[int64]
	sayIP       *iplimit.Limiter[iplimit.Key]
	fanout      *iplimit.Limiter[struct{}]
	refused     [numLimits]atomic.Uint64

	sessionsEnded atomic.Uint64 // says refused on an ended packet login

	mu       sync.Mutex // guards the fields below
	servers  []*server.Server
	relays   []Relay
	history  []Message // ring, oldest first after rotation
	start    int
	subs     map[chan Message]struct{}
	sessions map[string]map[*session]struct{} // packet logins by token, to end them at Logout
}

// userAt keys failed logins of one username from one source.
type userAt struct {
	user string // lower case
	src  iplimit.Key
}

// The rate limits, for RateLimitError.Limit and Stats.
const (
	limitRegisterIP = iota
	limitRegisterAll
	limitFailIP
	limitFailUser
	limitFailUserAll
	limitSayUser
	limitSayIP
	limitFanout
	numLimits
)

var limitNames = [numLimits]string{"register per address", "register overall", "failed logins per address", "failed logins per user",
	"failed logins per user", "say per user", "say per address", "fan-out"}

// session is what a logged-in packet connection carries (server.Conn.Value).
type session struct {
	user    accounts.User
	token   string
	expires time.Time   // the session's end, by Config.Clock
	ended   atomic.Bool // logged out (App.Logout) in this process
}

// live reports whether s may still act at now.
func (s *session) live(now time.Time) bool { return !s.ended.Load() && now.Before(s.expires) }

// New returns an App on an accounts service.
func New(acc *accounts.Service, cfg Config) *App {
	if cfg.MaxText <= 0 {
		cfg.MaxText = 1000
	}
	if cfg.History <= 0 {
		cfg.History = 100
	}
	if cfg.FailuresPerIP <= 0 {
		cfg.FailuresPerIP = 20
	}
	if cfg.FailuresPerUser <= 0 {
		cfg.FailuresPerUser = 10
	}
	if cfg.FailuresPerUserTotal <= 0 {
		cfg.FailuresPerUserTotal = 100
	}
	if cfg.RegistersPerIP <= 0 {
		cfg.RegistersPerIP = 20
	}
	if cfg.RegistersPerSecond <= 0 {
		cfg.RegistersPerSecond = 5 * runtime.NumCPU()
	}
	if cfg.SayRate <= 0 {
		cfg.SayRate = 1
	}
	if cfg.SayBurst <= 0 {
		cfg.SayBurst = 10
	}
	if cfg.SayPerIPRate <= 0 {
		cfg.SayPerIPRate = 20
	}
	if cfg.SayPerIPBurst <= 0 {
		cfg.SayPerIPBurst = 50
	}
	if cfg.MaxFanout <= 0 {
		cfg.MaxFanout = 2_000_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	perMinute := func(n int) iplimit.LimiterConfig {
		return iplimit.LimiterConfig{Rate: float64(n) / 60, Burst: n, Clock: cfg.Clock}
	}
	return &App{
		acc:         acc,
		cfg:         cfg,
		failIP:      mustLimiter[iplimit.Key](perMinute(cfg.FailuresPerIP)),
		failUser:    mustLimiter[userAt](perMinute(cfg.FailuresPerUser)),
		failUserAll: mustLimiter[string](perMinute(cfg.FailuresPerUserTotal)),
		registerIP:  mustLimiter[iplimit.Key](iplimit.LimiterConfig{Rate: float64(cfg.RegistersPerIP) / 3600, Burst: cfg.RegistersPerIP, Clock: cfg.Clock}),
		registerAll: mustLimiter[struct{}](iplimit.LimiterConfig{Rate: float64(cfg.RegistersPerSecond), Burst: 2 * cfg.RegistersPerSecond, Clock: cfg.Clock}),
		sayUser:     mustLimiter[int64](iplimit.LimiterConfig{Rate: cfg.SayRate, Burst: cfg.SayBurst, Clock: cfg.Clock}),
		sayIP:       mustLimiter[iplimit.Key](iplimit.LimiterConfig{Rate: cfg.SayPerIPRate, Burst: cfg.SayPerIPBurst, Clock: cfg.Clock}),
		fanout:      mustLimiter[struct{}](iplimit.LimiterConfig{Rate: float64(cfg.MaxFanout), Burst: cfg.MaxFanout, Clock: cfg.Clock}),
		subs:        map[chan Message]struct{}{},
		sessions:    map[string]map[*session]struct{}{},
	}
}

// mustLimiter makes a limiter from a configuration New has validated.
func mustLimiter[K comparable](cfg iplimit.LimiterConfig) *iplimit.Limiter[K] {
	l, err := iplimit.NewLimiter[K](cfg)
	if err != nil {
		panic(err) // New keeps every rate and burst positive
	}
	return l
}

// refuse counts a refusal by limit and returns its error.
func (a *App) refuse(limit int, retry time.Duration) error {
	a.refused[limit].Add(1)
	return &RateLimitError{Limit: limitNames[limit], RetryAfter: max(retry, time.Second)}
}

// Stats are the App's refusal counters.
type Stats struct {
	RefusedRegister  uint64 `json:"refused_register"`      // registrations over RegistersPerIP or RegistersPerSecond
	RefusedLoginIP   uint64 `json:"refused_login_ip"`      // logins over FailuresPerIP
	RefusedLoginUser uint64 `json:"refused_login_user"`    // logins over FailuresPerUser or FailuresPerUserTotal
	RefusedSayUser   uint64 `json:"refused_say_user"`      // says over SayRate/SayBurst
	RefusedSayIP     uint64 `json:"refused_say_ip"`        // says over SayPerIPRate/SayPerIPBurst
	RefusedFanout    uint64 `json:"refused_fanout"`        // says over MaxFanout
	HashBusy         uint64 `json:"hash_busy"`             // logins and registrations refused: no password-hash slot in time
	SessionsEnded    uint64 `json:"packet_sessions_ended"` // says refused on a logged-out or expired packet login
}

// Add adds o, another App's counters (another worker process's), into s.
func (s *Stats) Add(o Stats) {
	s.RefusedRegister += o.RefusedRegister
	s.RefusedLoginIP += o.RefusedLoginIP
	s.RefusedLoginUser += o.RefusedLoginUser
	s.RefusedSayUser += o.RefusedSayUser
	s.RefusedSayIP += o.RefusedSayIP
	s.RefusedFanout += o.RefusedFanout
	s.HashBusy += o.HashBusy
	s.SessionsEnded += o.SessionsEnded
}

// Stats returns the App's counters.
func (a *App) Stats() Stats {
	h := a.acc.HashStats()
	return Stats{
		RefusedRegister:  a.refused[limitRegisterIP].Load() + a.refused[limitRegisterAll].Load(),
		RefusedLoginIP:   a.refused[limitFailIP].Load(),
		RefusedLoginUser: a.refused[limitFailUser].Load() + a.refused[limitFailUserAll].Load(),
		RefusedSayUser:   a.refused[limitSayUser].Load(),
		RefusedSayIP:     a.refused[limitSayIP].Load(),
		RefusedFanout:    a.refused[limitFanout].Load(),
		HashBusy:         h.BusyLogins + h.BusyRegistrations,
		SessionsEnded:    a.sessionsEnded.Load(),
	}
}

// Accounts returns the accounts service.
func (a *App) Accounts() *accounts.Service { return a.acc }

// Routes registers the packet handlers (codes 5, 6, 7) on rt.
func (a *App) Routes(rt *server.Router) {
	rt.HandleFunc(CodeRegister, a.handleRegister)
	rt.HandleFunc(CodeLogin, a.handleLogin)
	rt.HandleFunc(CodeSay, a.handleSay)
}

// Relay carries chat messages between processes that serve the same chat
// (wharfd's workers, through their master: supervisor.Hub implements it).
type Relay interface {
	Publish(topic string, data []byte) error
	Subscribe(topic string, fn func(data []byte))
}

// relayTopic is the topic chat messages travel on.
const relayTopic = "chat.message"

// Relay makes messages said here reach the other processes of r, and
// theirs reach the users of this one.
func (a *App) Relay(r Relay) {
	if r == nil {
		return
	}
	a.mu.Lock()
	a.relays = append(a.relays, r)
	a.mu.Unlock()
	r.Subscribe(relayTopic, func(data []byte) {
		var m Message
		if json.Unmarshal(data, &m) == nil {
			a.deliver(m, data)
		}
	})
}

// Attach makes messages reach the logged-in connections of srv.
func (a *App) Attach(srv *server.Server) {
	a.mu.Lock()
	a.servers = append(a.servers, srv)
	a.mu.Unlock()
	srv.OnClose(func(c *server.Conn) {
		if s, ok := c.Value().(*session); ok {
			a.forget(s)
		}
	})
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type reply struct {
	OK     bool   `json:"ok"`
	UserID int64  `json:"user_id,omitempty"`
	Token  string `json:"token,omitempty"`
	Error  string `json:"error,omitempty"`
}

// decode parses a request body into v, answering a code 1 error on failure.
func decode(r *server.Request, v any) bool {
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.Error("malformed JSON: " + jsonProblem(err))
		return false
	}
	return true
}

// jsonProblem describes a JSON error without echoing the input (which may
// hold a password).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be a %s", te.Field, te.Type)
	}
	return "not a JSON object"
}

// UserMessage is the text shown to a user for err: the package prefix is
// dropped, and unexpected errors become "internal error".
func UserMessage(err error) string {
	var ve *accounts.ValidationError
	switch {
	case errors.As(err, &ve):
		return "invalid " + ve.Field + ": " + ve.Reason
	case errors.Is(err, accounts.ErrUsernameTaken), errors.Is(err, accounts.ErrInvalidCredentials),
		errors.Is(err, ErrNotLoggedIn), errors.Is(err, ErrEmptyText), errors.Is(err, ErrTextTooLong),
		errors.Is(err, ErrBadText), errors.Is(err, ErrThrottled), errors.Is(err, accounts.ErrInvalidToken),
		errors.Is(err, ErrSessionEnded), errors.Is(err, accounts.ErrBusy):
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return msg
	}
	return "internal error"
}

func (a *App) fail(r *server.Request, what string, err error) {
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		r.Refuse(UserMessage(err), rl.RetryAfter)
		return
	case errors.Is(err, accounts.ErrBusy):
		r.Refuse(UserMessage(err), BusyRetry)
		return
	}
	msg := UserMessage(err)
	if msg == "internal error" {
		a.cfg.Logger.Error("chat: "+what, "conn", r.Conn.ID(), "err", err)
	}
	r.ReplyJSON(reply{Error: msg})
}

// BusyRetry is how long a client refused with accounts.ErrBusy is told to
// wait.
const BusyRetry = 2 * time.Second

func (a *App) handleRegister(r *server.Request) {
	var c credentials
	if !decode(r, &c) {
		return
	}
	u, err := a.Register(r.Context(), sourceOf(r.Conn.RemoteAddr()), c.Username, c.Password)
	if err != nil {
		a.fail(r, "register", err)
		return
	}
	r.ReplyJSON(reply{OK: true, UserID: u.ID})
}

func (a *App) handleLogin(r *server.Request) {
	var c credentials
	if !decode(r, &c) {
		return
	}
	u, token, err := a.Login(r.Context(), sourceOf(r.Conn.RemoteAddr()), c.Username, c.Password)
	if err != nil {
		a.fail(r, "login", err)
		return
	}
	s := &session{user: u, token: token, expires: a.cfg.Clock().Add(a.acc.Config().SessionTTL)}
	if old, ok := r.Conn.Value().(*session); ok {
		a.forget(old)
	}
	a.mu.Lock()
	m := a.sessions[token]
	if m == nil {
		m = map[*session]struct{}{}
		a.sessions[token] = m
	}
	m[s] = struct{}{}
	a.mu.Unlock()
	r.Conn.SetValue(s)
	r.ReplyJSON(reply{OK: true, UserID: u.ID, Token: token})
}

// forget drops s from the sessions index (its connection closed or logged
// in again).
func (a *App) forget(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := a.sessions[s.token]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(a.sessions, s.token)
		}
	}
}

func (a *App) handleSay(r *server.Request) {
	var body struct {
		Text string `json:"text"`
	}
	if !decode(r, &body) {
		return
	}
	s, ok := r.Conn.Value().(*session)
	if !ok {
		a.fail(r, "say", ErrNotLoggedIn)
		return
	}
	// The session may have ended since the login: logged out here (ended),
	// elsewhere (another worker or the web page: the database says so), or
	// expired.
	if !s.live(a.cfg.Clock()) {
		a.endSession(r.Conn, s)
		a.fail(r, "say", ErrSessionEnded)
		return
	}
	if _, err := a.acc.Authenticate(r.Context(), s.token); err != nil {
		if errors.Is(err, accounts.ErrInvalidToken) {
			a.endSession(r.Conn, s)
			err = ErrSessionEnded
		}
		a.fail(r, "say", err)
		return
	}
	m, err := a.prepareSay(sourceOf(r.Conn.RemoteAddr()), s.user, body.Text)
	if err != nil {
		a.fail(r, "say", err)
		return
	}
	// Reply before the broadcast, so the sender sees {"ok":true} before its
	// own message comes back.
	r.ReplyJSON(reply{OK: true})
	a.publish(m)
}

// endSession logs a packet connection out after its session ended.
func (a *App) endSession(c *server.Conn, s *session) {
	a.sessionsEnded.Add(1)
	s.ended.Store(true)
	a.forget(s)
	c.SetValue(nil)
}

// Register creates an account. src is the client's address (iplimit.KeyOf;
// the zero Key for none), limited to RegistersPerIP an hour.
func (a *App) Register(ctx context.Context, src iplimit.Key, username, password string) (accounts.User, error) {
	if src.IsValid() {
		if ok, retry := a.registerIP.AllowN(src, 1); !ok {
			return accounts.User{}, a.refuse(limitRegisterIP, retry)
		}
	}
	if ok, retry := a.registerAll.AllowN(struct{}{}, 1); !ok {
		if src.IsValid() {
			a.registerIP.Refund(src) // not this address's fault
		}
		return accounts.User{}, a.refuse(limitRegisterAll, retry)
	}
	return a.acc.Register(ctx, username, password)
}

// Login checks a password and returns the user and a session token. Failed
// attempts are limited per source address and per username (see Config);
// over a limit it returns a *RateLimitError without checking the password.
func (a *App) Login(ctx context.Context, src iplimit.Key, username, password string) (accounts.User, string, error) {
	user := strings.ToLower(username)
	// Take the tokens first, give them back on success: parallel guesses
	// are counted before any of them is checked.
	var taken [3]bool
	refund := func() {
		if taken[0] {
			a.failIP.Refund(src)
		}
		if taken[1] {
			a.failUser.Refund(userAt{user, src})
		}
		if taken[2] {
			a.failUserAll.Refund(user)
		}
	}
	if src.IsValid() {
		ok, retry := a.failIP.AllowN(src, 1)
		if !ok {
			return accounts.User{}, "", a.refuse(limitFailIP, retry)
		}
		taken[0] = true
	}
	if ok, retry := a.failUser.AllowN(userAt{user, src}, 1); !ok {
		refund()
		return accounts.User{}, "", a.refuse(limitFailUser, retry)
	}
	taken[1] = true
	if ok, retry := a.failUserAll.AllowN(user, 1); !ok {
		refund()
		return accounts.User{}, "", a.refuse(limitFailUserAll, retry)
	}
	taken[2] = true
	u, token, err := a.acc.Login(ctx, username, password)
	if !errors.Is(err, accounts.ErrInvalidCredentials) {
		refund() // only failures count
	}
	return u, token, err
}

// Logout ends the session of token: in the database, and at once on this
// process's packet connections logged in with it. Packet connections of
// other processes notice at their next say (which checks the database).
func (a *App) Logout(ctx context.Context, token string) error {
	a.mu.Lock()
	m := a.sessions[token]
	delete(a.sessions, token)
	a.mu.Unlock()
	for s := range m {
		s.ended.Store(true)
	}
	return a.acc.Logout(ctx, token)
}

// Say publishes text from user, said from src, to every logged-in packet
// connection and every web subscriber.
func (a *App) Say(src iplimit.Key, user accounts.User, text string) (Message, error) {
	m, err := a.prepareSay(src, user, text)
	if err != nil {
		return Message{}, err
	}
	a.publish(m)
	return m, nil
}

// prepareSay checks text and the say limits, and makes the message.
func (a *App) prepareSay(src iplimit.Key, user accounts.User, text string) (Message, error) {
	if err := a.check(text); err != nil {
		return Message{}, err
	}
	if ok, retry := a.sayUser.AllowN(user.ID, 1); !ok {
		return Message{}, a.refuse(limitSayUser, retry)
	}
	if src.IsValid() {
		if ok, retry := a.sayIP.AllowN(src, 1); !ok {
			return Message{}, a.refuse(limitSayIP, retry)
		}
	}
	if n := min(a.online(), int64(a.cfg.MaxFanout)); n > 0 {
		if ok, retry := a.fanout.AllowN(struct{}{}, int(n)); !ok {
			return Message{}, a.refuse(limitFanout, retry)
		}
	}
	return Message{From: user.Username, Text: text, TS: a.cfg.Clock().UnixMilli()}, nil
}

// online is the connections a message said here reaches: every connection
// of the attached servers (the logged-in ones are a subset; counting them
// would cost a pass over all).
func (a *App) online() int64 {
	a.mu.Lock()
	servers := append([]*server.Server(nil), a.servers...)
	a.mu.Unlock()
	var n int64
	for _, srv := range servers {
		n += srv.Online()
	}
	return n
}

func (a *App) check(text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return ErrEmptyText
	case len(text) > a.cfg.MaxText:
		return fmt.Errorf("%w (%d bytes, at most %d)", ErrTextTooLong, len(text), a.cfg.MaxText)
	case !utf8.ValidString(text):
		return ErrBadText
	}
	for _, r := range text {
		if !printable(r) {
			return ErrBadText
		}
	}
	return nil
}

// printable reports whether a chat message may hold r. Control characters
// other than newline and tab are refused, and so are the invisible format
// characters (Unicode category Cf: bidirectional overrides such as U+202E,
// which reverse how the rest of a line reads and so can disguise it,
// zero-width spaces, word joiners, the byte order mark) and the line and
// paragraph separators U+2028 and U+2029, except those that written
// languages and emoji need: the zero-width non-joiner and joiner (U+200C,
// U+200D: Persian, Indic scripts, emoji sequences) and the tag characters
// of flag emoji (U+E0020 to U+E007F).
func printable(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return true
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return false
	case r == '\u200c' || r == '\u200d' || (r >= 0xE0020 && r <= 0xE007F):
		return true
	}
	return !unicode.Is(unicode.Cf, r)
}

// publish delivers m here and relays it to the other processes.
func (a *App) publish(m Message) {
	body, _ := json.Marshal(m)
	a.deliver(m, body)
	a.mu.Lock()
	relays := append([]Relay(nil), a.relays...)
	a.mu.Unlock()
	for _, r := range relays {
		if err := r.Publish(relayTopic, body); err != nil {
			a.cfg.Logger.Warn("chat: relay message", "err", err)
		}
	}
}

// deliver records m and sends it to this process's users.
func (a *App) deliver(m Message, body []byte) {
	a.mu.Lock()
	if len(a.history) < a.cfg.History {
		a.history = append(a.history, m)
	} else {
		a.history[a.start] = m
		a.start = (a.start + 1) % len(a.history)
	}
	servers := append([]*server.Server(nil), a.servers...)
	subs := make([]chan Message, 0, len(a.subs))
	for ch := range a.subs {
		subs = append(subs, ch)
	}
	a.mu.Unlock()
	// No lock is held while sending.
	for _, srv := range servers {
		srv.Broadcast(CodeMessage, body, loggedIn)
	}
	for _, ch := range subs {
		select {
		case ch <- m:
		default: // a stalled web viewer misses messages rather than stalling the chat
		}
	}
}

func loggedIn(c *server.Conn) bool {
	s, ok := c.Value().(*session)
	return ok && !s.ended.Load()
}

// History returns the recent messages, oldest first.
func (a *App) History() []Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Message, 0, len(a.history))
	out = append(out, a.history[a.start:]...)
	return append(out, a.history[:a.start]...)
}

// Subscribe returns a channel of new messages (buffered by buf; a viewer
// that falls behind misses messages) and a function to unsubscribe.
func (a *App) Subscribe(buf int) (<-chan Message, func()) {
	ch := make(chan Message, max(buf, 1))
	a.mu.Lock()
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.subs, ch)
			a.mu.Unlock()
		})
	}
}

// sourceOf is the rate-limit key of a remote address (the zero Key for a
// Unix socket, which is not limited).
func sourceOf(addr net.Addr) iplimit.Key {
	k, _ := iplimit.KeyOfNetAddr(addr)
	return k
}
