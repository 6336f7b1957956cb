package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"wharf/packet"
)

// Client is a connection to a wharf server speaking the packet protocol:
// requests matched to replies, pushes, keep-alive pings, and optionally
// reconnection. Create it with Dial. All methods are safe for concurrent
// use by any number of goroutines.
type Client struct {
	cfg              Config      // immutable after Dial
	addr             string      // as given to Dial
	network, address string      // split from addr, for the Dialer
	tls              *tls.Config // for tls:// (splitAddr); nil otherwise
	ctr              counters

	// cur is the working connection, nil while there is none (reconnecting,
	// or ended). Requests load it without a lock; install and detach store
	// it under mu, together with avail.
	cur atomic.Pointer[conn]

	ctx    context.Context    // cancelled by Close and at the end: stops redials and backoff waits
	cancel context.CancelFunc //
	done   chan struct{}      // closed by the run goroutine as it returns

	// inCallback is set while the run goroutine is in OnPush or OnState, so
	// that Close called from one does not wait for its own goroutine.
	inCallback atomic.Bool

	mu sync.Mutex // guards the fields below, and stores to cur
	// avail is closed when a connection is installed or the client ends,
	// and replaced by an open one when the connection is detached: it is
	// open exactly while cur is nil and the client has not ended.
	avail  chan struct{}
	closed bool  // Close was called
	err    error // why the client ended; set once, before done is closed
}

// Dial connects to addr and returns a Client. addr is "host:port" (TCP) or,
// in package endpoint's syntax, "tcp://host:port", "tcp4://…", "tcp6://…",
// "unix:///run/wharf.sock", "tls://host:port" (TLS over TCP, the server's
// certificate verified: see Config.TLS) or "kcp://host:port" (with a
// Dialer for KCP); its scheme is passed to Config.Dialer as the network
// (tcp for tls://). ctx bounds
// the first connection attempt only (with Config.DialTimeout); it does not
// bound the client's life. A failed attempt returns a *DialError, even with
// Reconnect: Reconnect applies to connections that dropped.
func Dial(ctx context.Context, addr string, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	network, address, tc, err := splitAddr(addr, cfg.TLS)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		addr:    addr,
		network: network,
		address: address,
		tls:     tc,
		done:    make(chan struct{}),
		avail:   make(chan struct{}),
	}
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	cn := newConn(c, nc)
	c.install(cn) // cannot be closed yet: nobody has the client
	c.cfg.Logger.Debug("client: connected", "addr", addr, "local", nc.LocalAddr().String())
	c.state(StateConnected, nil)
	go c.run(cn)
	return c, nil
}

// Addr returns the address given to Dial.
func (c *Client) Addr() string { return c.addr }

// Connected reports whether a connection is up right now.
func (c *Client) Connected() bool { return c.cur.Load() != nil }

// Request sends a packet with code and body and waits for the reply with the
// same code, returning its body (a new slice the caller owns; nil when the
// reply is empty). Any number of goroutines may call it at once: requests
// are pipelined on one connection, and since the server answers a
// connection's requests in order, replies are matched to requests in FIFO
// order per code.
//
// The wait is bounded by ctx or, when ctx has no deadline, by
// Config.RequestTimeout; then the error matches ErrTimeout and
// context.DeadlineExceeded, and the late reply, when it comes, is dropped
// without disturbing later requests. A code 1 reply for this code is
// returned as a *ServerError. Other errors: ErrClosed, a *ConnError
// (ErrConnLost: the connection dropped with the request outstanding; it is
// never resent), ErrTooLarge, ErrReservedCode, ErrSendBufferFull. While the
// client is reconnecting, Request waits for the connection within the same
// bound.
func (c *Client) Request(ctx context.Context, code uint16, body []byte) ([]byte, error) {
	return c.AppendReply(ctx, nil, code, body)
}

// AppendReply is Request appending the reply body to dst: a caller that
// reuses its buffer makes requests without allocating. It returns the
// extended slice, or dst unchanged with an error. dst is written only before
// AppendReply returns.
func (c *Client) AppendReply(ctx context.Context, dst []byte, code uint16, body []byte) ([]byte, error) {
	if err := c.check(code, body); err != nil {
		c.ctr.failed.Add(1)
		return dst, err
	}
	if err := ctx.Err(); err != nil {
		return dst, c.requestErr(code, err)
	}
	var timeout <-chan time.Time // nil (never ready) when ctx has a deadline
	if _, ok := ctx.Deadline(); !ok && c.cfg.RequestTimeout > 0 {
		t := getTimer(c.cfg.RequestTimeout)
		defer putTimer(t)
		timeout = t.C
	}
	w := getWaiter()
	w.dst = dst
	cn, err := c.queue(ctx, timeout, code, body, w)
	if err != nil {
		putWaiter(w)
		return dst, c.requestErr(code, err)
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		if cn.abandon(w) {
			return dst, c.requestErr(code, ctx.Err())
		}
		<-w.done // popped already: the result is on its way
	case <-timeout:
		if cn.abandon(w) {
			return dst, c.requestErr(code, context.DeadlineExceeded)
		}
		<-w.done
	}
	reply, err := w.reply, w.err
	putWaiter(w)
	if err != nil {
		c.ctr.failed.Add(1)
		return dst, err
	}
	return reply, nil
}

// RequestJSON sends req encoded as JSON (an empty body when req is nil) and
// decodes the reply into resp (unless resp is nil). Errors are Request's,
// plus encoding and decoding errors.
func (c *Client) RequestJSON(ctx context.Context, code uint16, req, resp any) error {
	return requestJSON(ctx, c, code, req, resp)
}

// requester is what RequestJSON needs; Client and Pool provide it.
type requester interface {
	Request(ctx context.Context, code uint16, body []byte) ([]byte, error)
}

func requestJSON(ctx context.Context, r requester, code uint16, req, resp any) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return fmt.Errorf("client: encode request code %d: %w", code, err)
		}
	}
	reply, err := r.Request(ctx, code, body)
	if err != nil {
		return err
	}
	if resp != nil {
		if err := json.Unmarshal(reply, resp); err != nil {
			return fmt.Errorf("client: decode reply to code %d: %w", code, err)
		}
	}
	return nil
}

// Send sends a packet without waiting for its reply: the server still
// answers it (every request gets one reply), and the client drops that reply
// when it comes, keeping later requests of the code matched. Use it only
// with codes the server answers: a reply that never comes would be taken
// from the next request of the code. It returns once
// the packet is written or queued behind a write in progress; a later write
// failure is not reported here (see Done and OnState). It fails with
// ErrNotConnected while reconnecting, ErrClosed, ErrSendBufferFull when the
// server reads slower than the caller sends, ErrTooLarge and
// ErrReservedCode.
func (c *Client) Send(code uint16, body []byte) error {
	if err := c.check(code, body); err != nil {
		return err
	}
	for {
		cn := c.cur.Load()
		if cn == nil {
			return c.notConnected()
		}
		w := getWaiter()
		w.discard = true
		err := cn.send(code, body, w)
		if err == nil {
			return nil
		}
		putWaiter(w)
		if err != errGone {
			return err
		}
		runtime.Gosched() // fail is detaching cn
	}
}

// notConnected is Send's error when there is no connection.
func (c *Client) notConnected() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return ErrClosed
	case c.err != nil:
		return c.err
	}
	return ErrNotConnected
}

// Ping sends a ping (code 0), which the server answers at once, and returns
// the round-trip time. Errors are Request's.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.AppendReply(ctx, nil, packet.CodePing, nil)
	return time.Since(start), err
}

// Close closes the connection and stops reconnecting. Requests waiting for
// a reply or a connection fail at once with ErrClosed. Close waits until the
// client's goroutines have stopped, except when called from OnPush or
// OnState (it cannot wait for the goroutine it runs on; Done tells when they
// stopped). It is idempotent and always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	c.mu.Unlock()
	if first {
		c.cancel()
		if cn := c.cur.Load(); cn != nil {
			cn.fail(ErrClosed)
		}
	}
	if !c.inCallback.Load() {
		<-c.done
	}
	return nil
}

// Done is closed when the client has ended for good: after Close, or when
// its connection dropped and Reconnect is off. Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client ended: ErrClosed after Close, or the
// connection's error (a *ConnError) when it dropped without Reconnect. It is
// nil until then.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// check validates a packet before it is queued.
func (c *Client) check(code uint16, body []byte) error {
	if code == packet.CodeError || c.cfg.isPush(code) {
		return fmt.Errorf("%w: %d (server to client only)", ErrReservedCode, code)
	}
	if n := packet.HeaderSize + len(body); n > c.cfg.MaxPacket {
		return fmt.Errorf("%w: %d bytes, MaxPacket %d", ErrTooLarge, n, c.cfg.MaxPacket)
	}
	return nil
}

// queue puts the request on the current connection, waiting for one if the
// client is reconnecting.
func (c *Client) queue(ctx context.Context, timeout <-chan time.Time, code uint16, body []byte, w *waiter) (*conn, error) {
	for {
		cn := c.cur.Load()
		if cn == nil {
			var err error
			if cn, err = c.waitConn(ctx, timeout); err != nil {
				return nil, err
			}
		}
		switch err := cn.send(code, body, w); err {
		case nil:
			return cn, nil
		case errGone:
			runtime.Gosched() // nothing was sent; fail is detaching cn
		default:
			return nil, err
		}
	}
}

// waitConn waits for a connection, the end of the client, ctx or timeout.
func (c *Client) waitConn(ctx context.Context, timeout <-chan time.Time) (*conn, error) {
	for {
		c.mu.Lock()
		cn, avail, closed, err := c.cur.Load(), c.avail, c.closed, c.err
		c.mu.Unlock()
		switch {
		case cn != nil:
			return cn, nil
		case closed:
			return nil, ErrClosed
		case err != nil:
			return nil, err
		}
		select {
		case <-avail:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			return nil, context.DeadlineExceeded
		}
	}
}

// requestErr counts a failed request and wraps context errors.
func (c *Client) requestErr(code uint16, err error) error {
	c.ctr.failed.Add(1)
	switch err {
	case context.DeadlineExceeded:
		c.ctr.timeouts.Add(1)
		return fmt.Errorf("%w (code %d): %w", ErrTimeout, code, err)
	case context.Canceled:
		c.ctr.timeouts.Add(1)
		return fmt.Errorf("client: request code %d: %w", code, err)
	}
	return err
}

// timerPool recycles request timers: a request on a context without a
// deadline needs one, and a new timer per request would be two allocations.
// Since Go 1.23 Stop guarantees that no stale tick is received after Reset.
var timerPool sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timerPool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timerPool.Put(t)
}

// dial makes one connection attempt.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	if c.cfg.DialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.DialTimeout)
		defer cancel()
	}
	nc, err := c.cfg.Dialer(ctx, c.network, c.address)
	if err != nil {
		return nil, &DialError{Addr: c.addr, Err: err}
	}
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &DialError{Addr: c.addr, Err: err}
		}
		nc = tc
	}
	return nc, nil
}

// install makes cn the current connection and wakes requests waiting for
// one. It reports false, installing nothing, once Close was called. A cn
// that already failed is not installed (its fail found nothing to detach);
// the run goroutine sees the failure right away.
func (c *Client) install(cn *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	cn.mu.Lock()
	failed := cn.err != nil
	cn.mu.Unlock()
	if !failed {
		c.cur.Store(cn)
		close(c.avail)
	}
	return true
}

// detach clears cn as the current connection, if it is. Called by cn.fail.
func (c *Client) detach(cn *conn) {
	c.mu.Lock()
	if c.cur.Load() == cn {
		c.cur.Store(nil)
		c.avail = make(chan struct{})
	}
	c.mu.Unlock()
}

// run is the client's background goroutine: it reads the connection and,
// when it drops, redials or ends the client. Done is closed when it returns.
func (c *Client) run(cn *conn) {
	defer close(c.done)
	attempt := 0 // redial attempts since the last connection that held
	for {
		cn.readLoop() // returns once cn has failed
		cn.bg.Wait()
		cn.mu.Lock()
		err := cn.err
		cn.mu.Unlock()
		if err != ErrClosed {
			c.ctr.disconnects.Add(1)
			c.cfg.Logger.Warn("client: connection lost", "addr", c.addr, "err", err)
			c.state(StateDisconnected, err)
		}
		if !c.cfg.Reconnect || c.isClosed() {
			c.finish(err)
			return
		}
		// A connection that held for MaxBackoff was a real one; one that
		// dropped sooner (a server that accepts and closes at once) keeps
		// the backoff growing.
		if time.Since(cn.born) >= c.cfg.MaxBackoff {
			attempt = 0
		}
		if cn, attempt = c.redial(attempt); cn == nil {
			c.finish(ErrClosed)
			return
		}
	}
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// redial connects again with backoff. It returns nil when Close stopped it.
func (c *Client) redial(attempt int) (*conn, int) {
	t := time.NewTimer(0)
	defer t.Stop()
	var last error
	for {
		c.state(StateReconnecting, last)
		t.Reset(backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff))
		attempt++
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return nil, attempt
		}
		nc, err := c.dial(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil, attempt
			}
			last = err
			c.cfg.Logger.Debug("client: redial failed", "addr", c.addr, "attempt", attempt, "err", err)
			continue
		}
		cn := newConn(c, nc)
		if !c.install(cn) {
			cn.fail(ErrClosed)
			cn.bg.Wait()
			return nil, attempt
		}
		c.ctr.reconnects.Add(1)
		c.cfg.Logger.Info("client: reconnected", "addr", c.addr, "attempt", attempt, "local", nc.LocalAddr().String())
		c.state(StateConnected, nil)
		return cn, attempt
	}
}

// backoff returns the wait before redial attempt n (from 0): a random time
// in [d/2, d] with d = min(max, min*2^n). The fixed half makes the wait
// grow; the random half spreads out clients that lost a server together.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 32 {
		if x := lo << n; x > 0 && x < hi {
			d = x
		}
	}
	return d/2 + rand.N(d/2+1)
}

// finish ends the client: requests waiting for a connection fail with err.
func (c *Client) finish(err error) {
	c.mu.Lock()
	if c.closed {
		err = ErrClosed
	}
	c.err = err
	close(c.avail) // open: cur was detached
	c.mu.Unlock()
	c.cancel()
	c.state(StateClosed, err)
}

// state calls OnState.
func (c *Client) state(s State, err error) {
	if c.cfg.OnState == nil {
		return
	}
	c.inCallback.Store(true)
	defer c.inCallback.Store(false)
	c.cfg.OnState(s, err)
}

// push calls OnPush, or counts the packet dropped.
func (c *Client) push(code uint16, body []byte) {
	if c.cfg.OnPush == nil {
		c.ctr.pushesDropped.Add(1)
		return
	}
	c.ctr.pushes.Add(1)
	c.inCallback.Store(true)
	defer c.inCallback.Store(false)
	c.cfg.OnPush(code, body)
}

// counters are the client's statistics. The first group is written by
// requesters and writers, the second by the reader; the padding keeps them
// on different cache lines.
type counters struct {
	sent, bytesSent, failed, timeouts, keepAlives atomic.Uint64
	_                                             [64]byte
	received, bytesReceived, replies              atomic.Uint64
	serverErrors, pushes, pushesDropped, late     atomic.Uint64
	badPackets, reconnects, disconnects           atomic.Uint64
}

// Stats counts a client's traffic since Dial, over all its connections.
type Stats struct {
	Sent          uint64 // packets sent: requests, Sends and keep-alive pings
	Received      uint64 // packets received with a good checksum
	Replies       uint64 // replies matched to requests (code 1 errors not included)
	ServerErrors  uint64 // code 1 replies matched to requests
	Pushes        uint64 // packets given to OnPush
	PushesDropped uint64 // unsolicited packets dropped for want of an OnPush
	KeepAlives    uint64 // keep-alive pings sent
	Late          uint64 // replies dropped because their request had given up
	Errors        uint64 // requests that failed for any reason (timeouts and server errors included)
	Timeouts      uint64 // requests that timed out or were cancelled
	BadPackets    uint64 // packets dropped for a bad checksum
	Reconnects    uint64 // successful redials
	Disconnects   uint64 // connections lost (not counting Close)
	BytesSent     uint64
	BytesReceived uint64
}

// Stats returns the counters. Safe from any goroutine.
func (c *Client) Stats() Stats {
	r := &c.ctr
	return Stats{
		Sent:          r.sent.Load(),
		Received:      r.received.Load(),
		Replies:       r.replies.Load(),
		ServerErrors:  r.serverErrors.Load(),
		Pushes:        r.pushes.Load(),
		PushesDropped: r.pushesDropped.Load(),
		KeepAlives:    r.keepAlives.Load(),
		Late:          r.late.Load(),
		Errors:        r.failed.Load(),
		Timeouts:      r.timeouts.Load(),
		BadPackets:    r.badPackets.Load(),
		Reconnects:    r.reconnects.Load(),
		Disconnects:   r.disconnects.Load(),
		BytesSent:     r.bytesSent.Load(),
		BytesReceived: r.bytesReceived.Load(),
	}
}

// add sums s and o, for Pool.Stats.
func (s Stats) add(o Stats) Stats {
	s.Sent += o.Sent
	s.Received += o.Received
	s.Replies += o.Replies
	s.ServerErrors += o.ServerErrors
	s.Pushes += o.Pushes
	s.PushesDropped += o.PushesDropped
	s.KeepAlives += o.KeepAlives
	s.Late += o.Late
	s.Errors += o.Errors
	s.Timeouts += o.Timeouts
	s.BadPackets += o.BadPackets
	s.Reconnects += o.Reconnects
	s.Disconnects += o.Disconnects
	s.BytesSent += o.BytesSent
	s.BytesReceived += o.BytesReceived
	return s
}
