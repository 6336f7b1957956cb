package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"wharf/accounts"
	"wharf/channels"
	"wharf/iplimit"
	"wharf/jwtauth"
	"wharf/server"
)

// session is one login of a packet connection: who it is, and until when.
type session struct {
	peer    *peer         // the connection logged in; set by peer.login
	user    string        // the user ID in channels: the account's decimal ID, or a JWT's sub
	name    string        // the display name: the username, or a JWT's name
	account accounts.User // the account; zero for a JWT login
	token   string        // the accounts session token; "" for a JWT login
	key     string        // tokenKey(token), the sessions index's key; "" for a JWT login
	expires time.Time     // the end of the session (or of the JWT), by Config.Clock
	claims  []string      // a JWT's channels claim, subscribed at login
	ended   atomic.Bool   // logged out: it may no longer act
}

// live reports whether s may still act at now.
func (s *session) live(now time.Time) bool { return !s.ended.Load() && now.Before(s.expires) }

// tokenKey is what indexes packet logins by their session token and what
// the Relay carries to end them in other processes: the token's SHA-256,
// so that neither the index nor the relay holds a usable token.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// accountSession is the session of a login to an account.
func (a *App) accountSession(u accounts.User, token string, expires time.Time) *session {
	s := &session{
		user:    strconv.FormatInt(u.ID, 10),
		name:    u.Username,
		account: u,
		token:   token,
		key:     tokenKey(token),
		expires: expires,
	}
	a.names.remember(s.user, s.name)
	return s
}

// endReason says why a login ended, as the code 19 push tells it.
type endReason string

const (
	endExpired   endReason = "expired"
	endLoggedOut endReason = "logged_out"
)

// peer is what the App keeps of one packet connection: its login and its
// membership in the channels Hub. It is the connection's server.Conn
// Value, made at its first request (peerOf); handlers run one at a time
// per connection, the expiry timer, App.Logout and the connection's close
// on other goroutines.
type peer struct {
	app  *App
	conn *server.Conn

	sess   atomic.Pointer[session] // the live login, nil when anonymous; written with mu held
	modern atomic.Bool             // subscribed to a channel: gets publications, no more code 8 messages

	mu     sync.Mutex       // guards the fields below
	client *channels.Client // the connection in the Hub: made at login, or at an anonymous connection's first subscription
	timer  *time.Timer      // ends sess when it expires
	ended  bool             // a login ended and no other began: say answers ErrSessionEnded
	closed bool             // the connection closed: nothing may join the Hub any more
}

// peerOf returns c's peer, making it at the connection's first request.
// Only the connection's handlers call it, one at a time.
func (a *App) peerOf(c *server.Conn) *peer {
	if p, ok := c.Value().(*peer); ok {
		return p
	}
	p := &peer{app: a, conn: c}
	c.SetValue(p)
	// The connection may have closed before SetValue: its OnClose hook
	// then saw no peer, and this one must not keep anything in the Hub.
	if c.Closed() {
		p.close()
	}
	return p
}

// subscriber is a packet connection as the channels Hub sees it, for one
// login: the Hub wants a user ID that does not change, so a login (or the
// end of one) connects the connection afresh.
type subscriber struct {
	conn *server.Conn
	user string
}

var _ channels.Subscriber = subscriber{}

func (s subscriber) ID() uint64     { return s.conn.ID() }
func (s subscriber) UserID() string { return s.user }

// Deliver queues p, packets of PacketEncoder shared by every subscriber,
// without copying them; the server's refusals map to channels' errors. A
// recovery's batch of several packets is one entry of the connection's
// send queue (on WebSocket, one message of whole packets, as
// packet/SPEC.md allows).
func (s subscriber) Deliver(p []byte) error {
	switch err := s.conn.SendEncoded(p); err {
	case nil:
		return nil
	case server.ErrOverloaded:
		return channels.ErrSubscriberOverloaded
	case server.ErrClosed:
		return channels.ErrSubscriberClosed
	default:
		return err
	}
}

// login makes s the connection's login, in place of any other: its
// subscriptions end (the connection joins the Hub again as s's user, and
// subscribes again), and s ends by itself when it expires.
func (p *peer) login(s *session) {
	a := p.app
	s.peer = p
	a.index(s)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		a.forget(s)
		return
	}
	old := p.sess.Load()
	oldClient, oldTimer := p.client, p.timer
	p.client = a.hub.Connect(subscriber{p.conn, s.user})
	p.sess.Store(s)
	p.ended = false
	p.modern.Store(false)
	p.timer = time.AfterFunc(max(s.expires.Sub(a.cfg.Clock()), 0), func() { p.end(s, endExpired) })
	p.mu.Unlock()
	if oldTimer != nil {
		oldTimer.Stop()
	}
	if oldClient != nil {
		oldClient.Close()
	}
	if old != nil {
		a.forget(old)
	}
	if s.ended.Load() { // logged out while it was being installed
		p.end(s, endLoggedOut)
	}
}

// end ends the connection's login s, if it still is its login: the
// connection leaves its channels and is anonymous again, and it is told
// why with a code 19 push.
func (p *peer) end(s *session, why endReason) {
	s.ended.Store(true)
	p.mu.Lock()
	if p.sess.Load() != s {
		p.mu.Unlock()
		return
	}
	p.sess.Store(nil)
	client, timer, closed := p.client, p.timer, p.closed
	p.client, p.timer = nil, nil
	p.ended = true
	p.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	if client != nil {
		client.Close()
	}
	p.app.forget(s)
	if !closed {
		p.app.sessionsEnded.Add(1)
		p.conn.Send(CodeSessionEnded, []byte(`{"reason":"`+string(why)+`"}`))
	}
}

// close releases what the connection holds, when it closes. It runs on
// the transport's callback (an event loop), so the Hub's Close, which may
// wait for a subscription reading history, runs on a goroutine of its own.
func (p *peer) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	s := p.sess.Load()
	p.sess.Store(nil)
	client, timer := p.client, p.timer
	p.client, p.timer = nil, nil
	p.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	if s != nil {
		p.app.forget(s)
	}
	if client != nil {
		go client.Close()
	}
}

// current returns the connection's live login, or nil: a login found
// expired (its timer not yet run) is ended here.
func (p *peer) current() *session {
	s := p.sess.Load()
	if s == nil {
		return nil
	}
	if !s.live(p.app.cfg.Clock()) {
		why := endExpired
		if s.ended.Load() {
			why = endLoggedOut
		}
		p.end(s, why)
		return nil
	}
	return s
}

// session returns the connection's login for an action that needs one,
// or ErrNotLoggedIn or ErrSessionEnded. With checkStore, an accounts
// session is looked up in the database too, which notices a logout made
// by a process without a Relay to this one.
func (p *peer) session(ctx context.Context, checkStore bool) (*session, error) {
	s := p.current()
	if s == nil {
		p.mu.Lock()
		ended := p.ended
		p.mu.Unlock()
		if ended {
			return nil, ErrSessionEnded
		}
		return nil, ErrNotLoggedIn
	}
	if checkStore && s.token != "" {
		if _, err := p.app.acc.Authenticate(ctx, s.token); err != nil {
			if errors.Is(err, accounts.ErrInvalidToken) {
				p.end(s, endLoggedOut)
				return nil, ErrSessionEnded
			}
			return nil, err
		}
	}
	return s, nil
}

// actor is who the connection acts as: its live login's user, or
// anonymous.
func (p *peer) actor() Actor {
	src := sourceOf(p.conn.RemoteAddr())
	if s := p.current(); s != nil {
		return Actor{User: s.user, Name: s.name, Src: src}
	}
	return Actor{Src: src}
}

// hubClient returns the connection's Client in the Hub, connecting it
// anonymously if it has none (not logged in), or ErrClientClosed once the
// connection closed.
func (p *peer) hubClient() (*channels.Client, error) {
	p.current() // an expired login must not subscribe
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, channels.ErrClientClosed
	}
	if p.client == nil {
		p.client = p.app.hub.Connect(subscriber{p.conn, ""})
	}
	return p.client, nil
}

// index adds s to the sessions index, so Logout finds it.
func (a *App) index(s *session) {
	if s.key == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.sessions[s.key]
	if m == nil {
		m = map[*session]struct{}{}
		a.sessions[s.key] = m
	}
	m[s] = struct{}{}
}

// forget drops s from the sessions index.
func (a *App) forget(s *session) {
	if s.key == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := a.sessions[s.key]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(a.sessions, s.key)
		}
	}
}

// endToken ends the packet logins of the session whose tokenKey is key.
func (a *App) endToken(key string, why endReason) {
	a.mu.Lock()
	m := a.sessions[key]
	delete(a.sessions, key)
	a.mu.Unlock()
	for s := range m {
		s.peer.end(s, why)
	}
}

// loginToken logs in with a token instead of a password: a JWT when
// Config.JWT is set and the token looks like one, else a session token of
// the accounts store (from a login on any transport, the web app's cookie
// included). Refusals count against FailuresPerIP like failed password
// logins (a token is taken before the check and given back if it was
// good).
func (a *App) loginToken(ctx context.Context, src iplimit.Key, token string) (*session, error) {
	if src.IsValid() {
		if ok, retry := a.failIP.AllowN(src, 1); !ok {
			return nil, a.refuse(limitFailIP, retry)
		}
	}
	s, err := a.verifyToken(ctx, token)
	switch {
	case errors.Is(err, ErrBadToken):
		a.badTokens.Add(1)
	case src.IsValid():
		a.failIP.Refund(src)
	}
	return s, err
}

func (a *App) verifyToken(ctx context.Context, token string) (*session, error) {
	if a.cfg.JWT != nil && jwtauth.LooksLikeJWT(token) {
		c, err := a.cfg.JWT.Verify(token)
		if err != nil {
			a.cfg.Logger.Debug("chat: JWT refused", "err", err)
			return nil, ErrBadToken
		}
		if _, err := channels.UserChannel("user", c.Subject); err != nil {
			a.cfg.Logger.Debug("chat: JWT refused: sub is not a valid user ID", "err", err)
			return nil, ErrBadToken
		}
		a.jwtLogins.Add(1)
		a.names.remember(c.Subject, c.Name)
		return &session{user: c.Subject, name: c.Name, expires: c.Expires, claims: c.Channels}, nil
	}
	u, expires, err := a.acc.AuthenticateSession(ctx, token)
	switch {
	case errors.Is(err, accounts.ErrInvalidToken):
		return nil, ErrBadToken
	case err != nil:
		return nil, err
	}
	a.tokenLogins.Add(1)
	return a.accountSession(u, token, expires), nil
}

// subscribeClaims subscribes a JWT login's connection to the channels of
// its channels claim, on the backend's authority, and returns those it
// could subscribe to. A channel that fails is logged and left out: the
// token is valid all the same.
func (a *App) subscribeClaims(ctx context.Context, p *peer, s *session) []string {
	if len(s.claims) == 0 {
		return nil
	}
	c, err := p.hubClient()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var out []string
	for _, ch := range s.claims {
		name, err := channels.ParseName(ch)
		if err == nil {
			_, err = c.Subscribe(ctx, name, channels.SubscribeOptions{Server: true})
		}
		if err != nil {
			a.cfg.Logger.Info("chat: JWT channels claim", "user", s.user, "channel", ch, "err", err)
			continue
		}
		p.modern.Store(true)
		out = append(out, ch)
	}
	return out
}

// requestTimeout bounds what one request waits for the channels' history
// store.
const requestTimeout = 10 * time.Second
