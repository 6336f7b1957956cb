package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"wharf/accounts"
	"wharf/channels"
	"wharf/iplimit"
	"wharf/jwtauth"
	"wharf/server"
)

// Message codes of the chat protocol (packet/SPEC.md sections 6 and 8).
const (
	CodeRegister uint16 = 5
	CodeLogin    uint16 = 6
	CodeSay      uint16 = 7
	CodeMessage  uint16 = 8 // push

	CodeSubscribe    uint16 = 9
	CodeUnsubscribe  uint16 = 10
	CodePublish      uint16 = 11
	CodePublication  uint16 = 12 // push
	CodeJoin         uint16 = 13 // push
	CodeLeave        uint16 = 14 // push
	CodePresence     uint16 = 15
	CodeHistory      uint16 = 16
	CodeSendDirect   uint16 = 17
	CodeDirect       uint16 = 18 // push
	CodeSessionEnded uint16 = 19 // push
)

// Message is one chat line, as pushed with code 8: a publication on the
// lobby channel whose data is {"text": "..."}.
type Message struct {
	From string `json:"from"`
	Text string `json:"text"`
	TS   int64  `json:"ts"` // Unix milliseconds
}

// Config configures an App. Zero fields take the defaults in the comments.
type Config struct {
	// MaxText is the longest message in bytes. Default 1000.
	MaxText int

	// Channels configures the channels Hub behind codes 9 to 18 and the
	// lobby: namespaces, history store, broker and bounds (see
	// channels.Config; its zero value is the default namespaces with
	// memory history on one node). Encoder, Clock and Logger are the
	// App's: leave them nil.
	Channels channels.Config
	// Lobby is the channel say (code 7, and the web app's chat box)
	// publishes to. Its publications whose data is {"text": "..."}, from
	// anywhere, are pushed as code 8 messages to the logged-in
	// connections that have not subscribed to a channel, so clients of
	// codes 5 to 8 keep their chat room. Default "room:lobby".
	Lobby string
	// PublishRate and PublishBurst bound one user's publications and
	// direct messages (codes 11 and 17, and the web app's), per second
	// sustained and at once; PublishPerIPRate and PublishPerIPBurst those
	// from one source address, the only bound of anonymous publishers.
	// MaxFanout bounds them together with say. Defaults 10/s and 50, 50/s
	// and 200.
	PublishRate       float64
	PublishBurst      int
	PublishPerIPRate  float64
	PublishPerIPBurst int
	// JWT verifies logins with a JSON Web Token (code 6 {"token": JWT}):
	// the connection's user is the token's sub, without an account here.
	// Default nil: only wharfd's own session tokens and passwords log in.
	JWT *jwtauth.Verifier
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
	acc   *accounts.Service
	cfg   Config
	hub   *channels.Hub
	lobby channels.Name // cfg.Lobby

	// Rate limits (see Config); safe for concurrent use.
	failIP      *iplimit.Limiter[iplimit.Key]
	failUser    *iplimit.Limiter[userAt]
	failUserAll *iplimit.Limiter[string]
	registerIP  *iplimit.Limiter[iplimit.Key]
	registerAll *iplimit.Limiter[struct{}]
	sayUser     *iplimit.Limiter[int64]
	sayIP       *iplimit.Limiter[iplimit.Key]
	pubUser     *iplimit.Limiter[string]
	pubIP       *iplimit.Limiter[iplimit.Key]
	fanout      *iplimit.Limiter[struct{}]
	refused     [numLimits]atomic.Uint64

	sessionsEnded atomic.Uint64 // packet logins ended by a logout or an expiry
	tokenLogins   atomic.Uint64 // packet logins with a session token
	jwtLogins     atomic.Uint64 // packet logins with a JWT
	badTokens     atomic.Uint64 // packet logins refused for their token

	names names // user ID -> display name

	mu       sync.Mutex // guards the fields below
	servers  []*server.Server
	relays   []Relay
	sessions map[string]map[*session]struct{} // packet logins by the tokenKey of their token, to end them at Logout
	derived  map[string][]derivedToken        // DeriveToken's tokens by the tokenKey of their parent, to log them out with it
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
	limitPublishUser
	limitPublishIP
	numLimits
)

var limitNames = [numLimits]string{"register per address", "register overall", "failed logins per address", "failed logins per user",
	"failed logins per user", "say per user", "say per address", "fan-out", "publish per user", "publish per address"}

// DefaultLobby is Config.Lobby's default.
const DefaultLobby = "room:lobby"

// New returns an App on an accounts service, with the channels Hub of
// cfg.Channels. It fails if cfg.Channels or cfg.Lobby is invalid.
func New(acc *accounts.Service, cfg Config) (*App, error) {
	if cfg.MaxText <= 0 {
		cfg.MaxText = 1000
	}
	if cfg.Lobby == "" {
		cfg.Lobby = DefaultLobby
	}
	if cfg.PublishRate <= 0 {
		cfg.PublishRate = 10
	}
	if cfg.PublishBurst <= 0 {
		cfg.PublishBurst = 50
	}
	if cfg.PublishPerIPRate <= 0 {
		cfg.PublishPerIPRate = 50
	}
	if cfg.PublishPerIPBurst <= 0 {
		cfg.PublishPerIPBurst = 200
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
	lobby, err := channels.ParseName(cfg.Lobby)
	if err != nil {
		return nil, fmt.Errorf("chat: Config.Lobby: %w", err)
	}
	perMinute := func(n int) iplimit.LimiterConfig {
		return iplimit.LimiterConfig{Rate: float64(n) / 60, Burst: n, Clock: cfg.Clock}
	}
	a := &App{
		acc:         acc,
		cfg:         cfg,
		lobby:       lobby,
		failIP:      mustLimiter[iplimit.Key](perMinute(cfg.FailuresPerIP)),
		failUser:    mustLimiter[userAt](perMinute(cfg.FailuresPerUser)),
		failUserAll: mustLimiter[string](perMinute(cfg.FailuresPerUserTotal)),
		registerIP:  mustLimiter[iplimit.Key](iplimit.LimiterConfig{Rate: float64(cfg.RegistersPerIP) / 3600, Burst: cfg.RegistersPerIP, Clock: cfg.Clock}),
		registerAll: mustLimiter[struct{}](iplimit.LimiterConfig{Rate: float64(cfg.RegistersPerSecond), Burst: 2 * cfg.RegistersPerSecond, Clock: cfg.Clock}),
		sayUser:     mustLimiter[int64](iplimit.LimiterConfig{Rate: cfg.SayRate, Burst: cfg.SayBurst, Clock: cfg.Clock}),
		sayIP:       mustLimiter[iplimit.Key](iplimit.LimiterConfig{Rate: cfg.SayPerIPRate, Burst: cfg.SayPerIPBurst, Clock: cfg.Clock}),
		pubUser:     mustLimiter[string](iplimit.LimiterConfig{Rate: cfg.PublishRate, Burst: cfg.PublishBurst, Clock: cfg.Clock}),
		pubIP:       mustLimiter[iplimit.Key](iplimit.LimiterConfig{Rate: cfg.PublishPerIPRate, Burst: cfg.PublishPerIPBurst, Clock: cfg.Clock}),
		fanout:      mustLimiter[struct{}](iplimit.LimiterConfig{Rate: float64(cfg.MaxFanout), Burst: cfg.MaxFanout, Clock: cfg.Clock}),
		names:       names{m: map[string]string{}},
		sessions:    map[string]map[*session]struct{}{},
	}
	hc := cfg.Channels
	if hc.Encoder != nil || hc.Clock != nil || hc.Logger != nil {
		return nil, errors.New("chat: Config.Channels: Encoder, Clock and Logger are the App's; leave them nil")
	}
	hc.Encoder, hc.Clock, hc.Logger = PacketEncoder, cfg.Clock, cfg.Logger
	if hc.Broker != nil {
		hc.Broker = &lobbyBroker{app: a, next: hc.Broker}
	}
	if a.hub, err = channels.NewHub(hc); err != nil {
		return nil, fmt.Errorf("chat: Config.Channels: %w", err)
	}
	if _, err := a.hub.Namespace(lobby); err != nil {
		return nil, fmt.Errorf("chat: Config.Lobby %q: %w", cfg.Lobby, err)
	}
	return a, nil
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
	RefusedFanout    uint64 `json:"refused_fanout"`        // says and publications over MaxFanout
	RefusedPubUser   uint64 `json:"refused_publish_user"`  // publications and direct messages over PublishRate/PublishBurst
	RefusedPubIP     uint64 `json:"refused_publish_ip"`    // ... over PublishPerIPRate/PublishPerIPBurst
	HashBusy         uint64 `json:"hash_busy"`             // logins and registrations refused: no password-hash slot in time
	SessionsEnded    uint64 `json:"packet_sessions_ended"` // packet logins ended by a logout or an expiry
	TokenLogins      uint64 `json:"token_logins"`          // packet logins with a session token
	JWTLogins        uint64 `json:"jwt_logins"`            // packet logins with a JWT
	RefusedTokens    uint64 `json:"refused_tokens"`        // packet logins refused for an invalid or expired token
}

// Add adds o, another App's counters (another worker process's), into s.
func (s *Stats) Add(o Stats) {
	s.RefusedRegister += o.RefusedRegister
	s.RefusedLoginIP += o.RefusedLoginIP
	s.RefusedLoginUser += o.RefusedLoginUser
	s.RefusedSayUser += o.RefusedSayUser
	s.RefusedSayIP += o.RefusedSayIP
	s.RefusedFanout += o.RefusedFanout
	s.RefusedPubUser += o.RefusedPubUser
	s.RefusedPubIP += o.RefusedPubIP
	s.HashBusy += o.HashBusy
	s.SessionsEnded += o.SessionsEnded
	s.TokenLogins += o.TokenLogins
	s.JWTLogins += o.JWTLogins
	s.RefusedTokens += o.RefusedTokens
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
		RefusedPubUser:   a.refused[limitPublishUser].Load(),
		RefusedPubIP:     a.refused[limitPublishIP].Load(),
		HashBusy:         h.BusyLogins + h.BusyRegistrations,
		SessionsEnded:    a.sessionsEnded.Load(),
		TokenLogins:      a.tokenLogins.Load(),
		JWTLogins:        a.jwtLogins.Load(),
		RefusedTokens:    a.badTokens.Load(),
	}
}

// Accounts returns the accounts service.
func (a *App) Accounts() *accounts.Service { return a.acc }

// Hub returns the channels Hub: for stats, presence and history queries,
// and for transports that connect Subscribers of their own (the web app's
// event streams). Publish through the App (Publish, PublishAs), not the
// Hub, so that lobby messages reach the clients of code 8 too.
func (a *App) Hub() *channels.Hub { return a.hub }

// Lobby returns the lobby channel (Config.Lobby).
func (a *App) Lobby() channels.Name { return a.lobby }

// Routes registers the packet handlers (codes 5, 6, 7, 9, 10, 11, 15, 16
// and 17) on rt.
func (a *App) Routes(rt *server.Router) {
	rt.HandleFunc(CodeRegister, a.handleRegister)
	rt.HandleFunc(CodeLogin, a.handleLogin)
	rt.HandleFunc(CodeSay, a.handleSay)
	rt.HandleFunc(CodeSubscribe, a.handleSubscribe)
	rt.HandleFunc(CodeUnsubscribe, a.handleUnsubscribe)
	rt.HandleFunc(CodePublish, a.handlePublish)
	rt.HandleFunc(CodePresence, a.handlePresence)
	rt.HandleFunc(CodeHistory, a.handleHistory)
	rt.HandleFunc(CodeSendDirect, a.handleSendDirect)
}

// Relay carries the App's own notices between processes that serve the
// same users (wharfd's workers, through their master: supervisor.Hub
// implements it). Channel messages travel on the channels Broker instead
// (Config.Channels.Broker).
type Relay interface {
	Publish(topic string, data []byte) error
	Subscribe(topic string, fn func(data []byte))
}

// logoutTopic carries logouts: the tokenKey of a session logged out in one
// process, whose packet logins the others end at once.
const logoutTopic = "chat.logout"

// Relay makes logouts made here end the packet logins of the other
// processes of r at once, and theirs end this one's.
func (a *App) Relay(r Relay) {
	if r == nil {
		return
	}
	a.mu.Lock()
	a.relays = append(a.relays, r)
	a.mu.Unlock()
	r.Subscribe(logoutTopic, func(data []byte) {
		key := string(data)
		a.endToken(key, endLoggedOut)
		// Tokens derived here from the session logged out elsewhere: the
		// database too, off the relay's goroutine.
		if kids := a.takeDerived(key); len(kids) > 0 {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				defer cancel()
				a.logoutDerived(ctx, kids)
			}()
		}
	})
}

// Attach serves the connections of srv: lobby messages reach its
// logged-in connections with code 8, and a closing connection leaves its
// channels and its session.
func (a *App) Attach(srv *server.Server) {
	a.mu.Lock()
	a.servers = append(a.servers, srv)
	a.mu.Unlock()
	srv.OnClose(func(c *server.Conn) {
		if p, ok := c.Value().(*peer); ok {
			p.close()
		}
	})
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Token    string `json:"token"` // instead of username and password
}

type reply struct {
	OK       bool     `json:"ok"`
	UserID   int64    `json:"user_id,omitempty"`
	User     string   `json:"user,omitempty"`    // the user ID in channels
	Name     string   `json:"name,omitempty"`    // the display name
	Token    string   `json:"token,omitempty"`   // a password login's new session token
	Expires  int64    `json:"expires,omitempty"` // Unix ms: when the login ends
	Channels []string `json:"channels,omitempty"`
	Error    string   `json:"error,omitempty"`
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
		errors.Is(err, ErrSessionEnded), errors.Is(err, accounts.ErrBusy), errors.Is(err, ErrBadToken):
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
	src := sourceOf(r.Conn.RemoteAddr())
	var (
		s   *session
		err error
		rep = reply{OK: true}
	)
	if c.Token != "" {
		s, err = a.loginToken(r.Context(), src, c.Token)
	} else {
		var u accounts.User
		var token string
		u, token, err = a.Login(r.Context(), src, c.Username, c.Password)
		if err == nil {
			s = a.accountSession(u, token, a.cfg.Clock().Add(a.acc.Config().SessionTTL))
			rep.Token = token
		}
	}
	if err != nil {
		a.fail(r, "login", err)
		return
	}
	p := a.peerOf(r.Conn)
	p.login(s)
	rep.UserID, rep.User, rep.Name, rep.Expires = s.account.ID, s.user, s.name, s.expires.UnixMilli()
	rep.Channels = a.subscribeClaims(r.Context(), p, s)
	r.ReplyJSON(rep)
}

func (a *App) handleSay(r *server.Request) {
	var body struct {
		Text string `json:"text"`
	}
	if !decode(r, &body) {
		return
	}
	p := a.peerOf(r.Conn)
	s, err := p.session(r.Context(), true)
	if err != nil {
		a.fail(r, "say", err)
		return
	}
	m, err := a.prepareSay(sourceOf(r.Conn.RemoteAddr()), s.account.ID, body.Text)
	if err != nil {
		a.fail(r, "say", err)
		return
	}
	// Reply before the broadcast, so the sender sees {"ok":true} before its
	// own message comes back.
	r.ReplyJSON(reply{OK: true})
	m.From = s.name
	if err := a.sayLobby(r.Context(), s.user, m); err != nil {
		a.cfg.Logger.Warn("chat: say", "conn", r.Conn.ID(), "err", err)
	}
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

// Logout ends the session of token: in the database, and at once on the
// packet connections logged in with it, here and (through the Relay) in
// the other processes, which are told with a code 19 push and leave their
// channels.
func (a *App) Logout(ctx context.Context, token string) error {
	key := tokenKey(token)
	a.endToken(key, endLoggedOut)
	a.mu.Lock()
	relays := append([]Relay(nil), a.relays...)
	a.mu.Unlock()
	for _, r := range relays {
		if err := r.Publish(logoutTopic, []byte(key)); err != nil {
			a.cfg.Logger.Warn("chat: relay logout", "err", err)
		}
	}
	err := a.acc.Logout(ctx, token)
	return errors.Join(err, a.logoutDerived(ctx, a.takeDerived(key)))
}

// derivedToken is a token DeriveToken made, with its end.
type derivedToken struct {
	token   string
	expires time.Time
}

// DeriveToken returns a second token for the login session of token (a
// web page's cookie), ending with it: the page logs its packet connection
// in with it (the WebSocket transport), and never sees the cookie, which
// stays HttpOnly. Logout(token), in any process of the Relay, logs the
// derived tokens out too.
func (a *App) DeriveToken(ctx context.Context, token string) (string, time.Time, error) {
	derived, expires, err := a.acc.DeriveSession(ctx, token)
	if err != nil {
		return "", time.Time{}, err
	}
	key, now := tokenKey(token), a.cfg.Clock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.derived == nil {
		a.derived = map[string][]derivedToken{}
	}
	if len(a.derived) >= maxDerived { // forget the expired ones
		for k, list := range a.derived {
			if !now.Before(list[0].expires) {
				delete(a.derived, k)
			}
		}
	}
	a.derived[key] = append(a.derived[key], derivedToken{derived, expires})
	return derived, expires, nil
}

// maxDerived is how many sessions with derived tokens the App keeps
// before it sweeps the expired ones.
const maxDerived = 10_000

// takeDerived returns and forgets the tokens derived from the session of
// key.
func (a *App) takeDerived(key string) []derivedToken {
	a.mu.Lock()
	defer a.mu.Unlock()
	kids := a.derived[key]
	delete(a.derived, key)
	return kids
}

// logoutDerived logs derived tokens out: their packet logins end, here
// and (through the Relay) in the other processes, and the database
// forgets them.
func (a *App) logoutDerived(ctx context.Context, kids []derivedToken) error {
	if len(kids) == 0 {
		return nil
	}
	a.mu.Lock()
	relays := append([]Relay(nil), a.relays...)
	a.mu.Unlock()
	var errs []error
	for _, k := range kids {
		key := tokenKey(k.token)
		a.endToken(key, endLoggedOut)
		for _, r := range relays {
			if err := r.Publish(logoutTopic, []byte(key)); err != nil {
				a.cfg.Logger.Warn("chat: relay logout", "err", err)
			}
		}
		if err := a.acc.Logout(ctx, k.token); err != nil && !errors.Is(err, accounts.ErrInvalidToken) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Say publishes text from user, said from src, to the lobby: to its
// subscribers on every transport and, as code 8, to the logged-in packet
// connections that use no channels.
func (a *App) Say(ctx context.Context, src iplimit.Key, user accounts.User, text string) (Message, error) {
	m, err := a.prepareSay(src, user.ID, text)
	if err != nil {
		return Message{}, err
	}
	m.From = user.Username
	id := strconv.FormatInt(user.ID, 10)
	a.names.remember(id, user.Username)
	if err := a.sayLobby(ctx, id, m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// prepareSay checks text and the say limits, and makes the message (From
// is the caller's to fill).
func (a *App) prepareSay(src iplimit.Key, userID int64, text string) (Message, error) {
	if err := a.check(text); err != nil {
		return Message{}, err
	}
	if ok, retry := a.sayUser.AllowN(userID, 1); !ok {
		return Message{}, a.refuse(limitSayUser, retry)
	}
	if src.IsValid() {
		if ok, retry := a.sayIP.AllowN(src, 1); !ok {
			return Message{}, a.refuse(limitSayIP, retry)
		}
	}
	if err := a.takeFanout(a.online() + int64(a.hub.Subscribers(a.lobby))); err != nil {
		return Message{}, err
	}
	return Message{Text: text, TS: a.cfg.Clock().UnixMilli()}, nil
}

// takeFanout takes n deliveries from the fan-out budget (MaxFanout a
// second), or refuses.
func (a *App) takeFanout(n int64) error {
	if n = min(n, int64(a.cfg.MaxFanout)); n > 0 {
		if ok, retry := a.fanout.AllowN(struct{}{}, int(n)); !ok {
			return a.refuse(limitFanout, retry)
		}
	}
	return nil
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

// sourceOf is the rate-limit key of a remote address (the zero Key for a
// Unix socket, which is not limited).
func sourceOf(addr net.Addr) iplimit.Key {
	k, _ := iplimit.KeyOfNetAddr(addr)
	return k
}
