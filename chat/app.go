package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"wharf/accounts"
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
	// FailuresPerIP and FailuresPerUser bound failed logins per minute
	// (token buckets of that size, refilled over a minute). Defaults 20 and 10.
	FailuresPerIP, FailuresPerUser int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Clock; default time.Now.
	Clock func() time.Time
}

// App is the chat application. Its methods are safe for concurrent use.
type App struct {
	acc     *accounts.Service
	cfg     Config
	failIP  *limiter
	failUsr *limiter

	mu      sync.Mutex // guards the fields below
	servers []*server.Server
	relays  []Relay
	history []Message // ring, oldest first after rotation
	start   int
	subs    map[chan Message]struct{}
}

// session is what a logged-in packet connection carries (server.Conn.Value).
type session struct {
	user accounts.User
}

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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &App{
		acc:     acc,
		cfg:     cfg,
		failIP:  newLimiter(cfg.FailuresPerIP, time.Minute, cfg.Clock),
		failUsr: newLimiter(cfg.FailuresPerUser, time.Minute, cfg.Clock),
		subs:    map[chan Message]struct{}{},
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
		errors.Is(err, ErrBadText), errors.Is(err, ErrThrottled), errors.Is(err, accounts.ErrInvalidToken):
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return msg
	}
	return "internal error"
}

func (a *App) fail(r *server.Request, what string, err error) {
	msg := UserMessage(err)
	if msg == "internal error" {
		a.cfg.Logger.Error("chat: "+what, "conn", r.Conn.ID(), "err", err)
	}
	r.ReplyJSON(reply{Error: msg})
}

func (a *App) handleRegister(r *server.Request) {
	var c credentials
	if !decode(r, &c) {
		return
	}
	u, err := a.Register(r.Context(), hostOf(r.Conn.RemoteAddr()), c.Username, c.Password)
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
	u, token, err := a.Login(r.Context(), hostOf(r.Conn.RemoteAddr()), c.Username, c.Password)
	if err != nil {
		a.fail(r, "login", err)
		return
	}
	r.Conn.SetValue(&session{user: u})
	r.ReplyJSON(reply{OK: true, UserID: u.ID, Token: token})
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
	if err := a.check(body.Text); err != nil {
		a.fail(r, "say", err)
		return
	}
	// Reply before the broadcast, so the sender sees {"ok":true} before its
	// own message comes back.
	r.ReplyJSON(reply{OK: true})
	a.publish(Message{From: s.user.Username, Text: body.Text, TS: a.cfg.Clock().UnixMilli()})
}

// Register creates an account. ip is the client's address (unused today;
// kept so every entry point can be throttled alike).
func (a *App) Register(ctx context.Context, ip, username, password string) (accounts.User, error) {
	return a.acc.Register(ctx, username, password)
}

// Login checks a password and returns the user and a session token. After
// too many failures from ip or for username it returns ErrThrottled without
// checking the password.
func (a *App) Login(ctx context.Context, ip, username, password string) (accounts.User, string, error) {
	userKey := strings.ToLower(username)
	if !a.failIP.allowed(ip) || !a.failUsr.allowed(userKey) {
		return accounts.User{}, "", ErrThrottled
	}
	u, token, err := a.acc.Login(ctx, username, password)
	if errors.Is(err, accounts.ErrInvalidCredentials) {
		a.failIP.take(ip)
		a.failUsr.take(userKey)
	}
	return u, token, err
}

// Say publishes text from user to every logged-in packet connection and
// every web subscriber.
func (a *App) Say(user accounts.User, text string) (Message, error) {
	if err := a.check(text); err != nil {
		return Message{}, err
	}
	m := Message{From: user.Username, Text: text, TS: a.cfg.Clock().UnixMilli()}
	a.publish(m)
	return m, nil
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
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return ErrBadText
		}
	}
	return nil
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
	_, ok := c.Value().(*session)
	return ok
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

// hostOf returns the IP of a remote address as a string ("" if unknown).
func hostOf(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(addr.String()); err == nil {
		return h
	}
	return addr.String()
}
