package kcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	kcpgo "github.com/xtaci/kcp-go/v5"

	"wharf/endpoint"
	"wharf/engine"
)

// acceptPoll is how often the accept loop wakes without a session: the
// longest it takes to notice that Shutdown wants it to finish. kcp-go's
// Accept can only be woken by a deadline (closing the listener races with
// sessions still in its backlog).
const acceptPoll = 50 * time.Millisecond

// Transport serves KCP sessions on one UDP socket with an engine.Handler:
// the server.Transport for wharf's message server. Create it with Listen or
// Serve; it serves at once. All methods are safe for concurrent use.
type Transport struct {
	cfg      Config
	pc       net.PacketConn // the socket; owned
	gate     *gate
	ln       *kcpgo.Listener
	eng      *engine.Engine // serves the sessions
	maxWrite int            // most bytes handed to kcp-go in one write: a send window

	draining   atomic.Bool   // set by Shutdown: the accept loop ends once the gate is quiet
	acceptDone chan struct{} // closed when the accept loop has returned
	reaperStop chan struct{}
	reaperDone chan struct{}
	done       chan struct{} // closed when Shutdown has finished

	mu      sync.Mutex // guards closing
	closing bool       // Shutdown has started
}

// Listen opens a UDP socket on addr ("udp://:7001", "udp4://host:port",
// "udp6://[::1]:7001", "kcp://:7001" or a bare "host:port", in package
// endpoint's syntax) and serves KCP sessions on it
// with h, like Serve.
func Listen(addr string, cfg Config, h engine.Handler) (*Transport, error) {
	a, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr(a.Network(), a.Address())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadAddr, addr, err)
	}
	uc, err := net.ListenUDP(a.Network(), ua)
	if err != nil {
		return nil, fmt.Errorf("kcp: listen %s: %w", addr, err)
	}
	t, err := Serve(uc, cfg, h)
	if err != nil {
		uc.Close()
		return nil, err
	}
	return t, nil
}

// Serve serves KCP sessions arriving on pc with h and returns at once. The
// Transport takes ownership of pc: Shutdown closes it. Each session is an
// engine connection of the transport's own engine (Config.Engine,
// engine.Engine.ServeConn): OnOpen when its first datagram is accepted,
// then OnData as bytes arrive.
func Serve(pc net.PacketConn, cfg Config, h engine.Handler) (*Transport, error) {
	if h == nil {
		return nil, errors.New("kcp: nil Handler")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	block, aead, err := cfg.crypto()
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(cfg.Engine, h)
	if err != nil {
		return nil, fmt.Errorf("kcp: %w", err)
	}
	if err := eng.Start(); err != nil {
		return nil, fmt.Errorf("kcp: %w", err)
	}
	setSocketBuffers(pc, cfg.SocketBuffer)
	t := &Transport{
		cfg:        cfg,
		pc:         pc,
		eng:        eng,
		maxWrite:   cfg.SendWindow * (cfg.MTU - segHeaderSize),
		acceptDone: make(chan struct{}),
		reaperStop: make(chan struct{}),
		reaperDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	t.gate = newGate(pc, &cfg, aead)
	t.ln, err = kcpgo.ServeConn(block, cfg.DataShards, cfg.ParityShards, t.gate)
	if err != nil {
		eng.Shutdown(context.Background())
		return nil, fmt.Errorf("kcp: %w", err)
	}
	go t.acceptLoop()
	go t.reapLoop()
	return t, nil
}

// setSocketBuffers sets SO_RCVBUF and SO_SNDBUF where pc supports it.
func setSocketBuffers(pc net.PacketConn, n int) {
	if b, ok := pc.(interface{ SetReadBuffer(int) error }); ok {
		b.SetReadBuffer(n)
	}
	if b, ok := pc.(interface{ SetWriteBuffer(int) error }); ok {
		b.SetWriteBuffer(n)
	}
}

// schemes are the schemes of the addresses Listen and Dial take, the
// first implied by a bare "host:port".
var schemes = endpoint.Schemes{"udp", "udp4", "udp6", "kcp"}

// parseAddr parses addr (package endpoint's syntax) for Listen and Dial.
// Its error matches ErrBadAddr and endpoint.ErrInvalid.
func parseAddr(addr string) (endpoint.Addr, error) {
	a, err := schemes.Parse(addr)
	if err != nil {
		return endpoint.Addr{}, fmt.Errorf("%w: %w", ErrBadAddr, err)
	}
	return a, nil
}

// Addr is the UDP address the transport serves.
func (t *Transport) Addr() net.Addr { return t.pc.LocalAddr() }

// Name implements server.Transport: "kcp".
func (t *Transport) Name() string { return "kcp" }

// Config returns the effective configuration (defaults applied).
func (t *Transport) Config() Config { return t.cfg }

// acceptLoop takes the sessions kcp-go creates (for datagrams the gate let
// through) and serves them, until Shutdown drains it.
func (t *Transport) acceptLoop() {
	defer close(t.acceptDone)
	for {
		// Quiet before the wait and a timeout after it mean kcp-go's
		// backlog was empty all along and cannot fill again.
		quiet := t.draining.Load() && t.gate.quiet()
		t.ln.SetReadDeadline(time.Now().Add(acceptPoll))
		s, err := t.ln.AcceptKCP()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if quiet {
					return
				}
				continue
			}
			if !t.draining.Load() {
				t.cfg.Logger.Error("kcp: socket failed, no more sessions", "addr", t.Addr().String(), "err", err)
			}
			return
		}
		t.accept(s)
	}
}

// accept serves a new kcp-go session, or refuses it.
func (t *Transport) accept(s *kcpgo.UDPSession) {
	key, ok := addrKey(s.RemoteAddr())
	if !ok {
		s.Close()
		t.gate.ctr.refused.Add(1)
		return
	}
	t.cfg.configure(s)
	ss := &session{t: t, sess: s, key: key}
	t.mu.Lock()
	closing := t.closing
	t.mu.Unlock()
	if closing {
		s.Close()
		return
	}
	old, ok := t.gate.attach(ss, s.GetConv())
	if !ok {
		s.Close() // counted by the gate when the table is full
		return
	}
	if old != nil {
		old.abort(&engine.OpError{Op: "read", Err: ErrSessionReplaced})
	}
	if _, err := t.eng.ServeConn(s, ss.options()); err != nil {
		t.gate.detach(ss) // ServeConn closed s and counted a refusal
	}
}

// reapLoop closes sessions silent for IdleTimeout.
func (t *Transport) reapLoop() {
	defer close(t.reaperDone)
	tick := time.NewTicker(min(max(t.cfg.IdleTimeout/4, 5*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-t.reaperStop:
			return
		case <-tick.C:
			now := t.cfg.Clock()
			t.gate.reap(now.UnixNano(), now.Add(-t.cfg.IdleTimeout).UnixNano(), func(s *session) { s.abort(engine.ErrIdleTimeout) })
		}
	}
}

// Each implements server.Transport: it runs fn for every open session,
// serialised with that session's callbacks (so fn may use the callback
// methods of engine.Conn), and returns when fn has run for all of them.
// fn must not block.
func (t *Transport) Each(fn func(c engine.Conn)) { t.eng.Each(fn) }

// StopAccepting implements server.Transport: datagrams from addresses
// without a session are refused from now on; open sessions are served until
// they close or Shutdown.
func (t *Transport) StopAccepting() { t.gate.stopAdmitting() }

// Shutdown implements server.Transport. It stops accepting, closes every
// session gracefully (its backlog is handed to KCP and the close waits for
// the peer's acknowledgement, see the package documentation; OnClose gets
// engine.ErrEngineClosed), closes every kcp-go session (those never
// accepted included) and the socket, and waits for the transport's
// goroutines to end (kcp-go's end a moment later). When ctx is done first
// the remaining sessions are closed at once and ctx.Err() is returned once
// everything has stopped. Calling Shutdown again waits for the first call.
func (t *Transport) Shutdown(ctx context.Context) error {
	t.StopAccepting()
	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		select {
		case <-t.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t.closing = true
	t.mu.Unlock()
	defer close(t.done)
	err := t.eng.Shutdown(ctx)
	// Sessions kcp-go created but nobody accepted would live (and be
	// updated) forever: let the accept loop close them until the gate is
	// quiet and the backlog empty.
	t.gate.dropPending()
	t.draining.Store(true)
	<-t.acceptDone
	t.ln.Close()
	t.pc.Close()
	close(t.reaperStop)
	<-t.reaperDone
	return err
}

// Done is closed when Shutdown has finished.
func (t *Transport) Done() <-chan struct{} { return t.done }

// Stats implements server.Transport: the stats of the sessions' engine.
// Kind is engine.Goroutine (a goroutine per session) and Loops 1; Rejected
// adds the datagrams refused by MaxSessions (each is an attempt to open a
// session; KCPStats.Refused) to the engine's MaxConns refusals; Slots is
// the session table's size; Reads and
// BytesRead count what sessions delivered, Writes and BytesWritten what was
// handed to KCP. Datagram-level counters are in KCPStats.
func (t *Transport) Stats() engine.Stats {
	s := t.eng.Stats()
	s.Rejected += t.gate.ctr.refused.Load()
	n, _ := t.gate.counts()
	s.Slots = int64(n)
	return s
}

// KCPStats are a Transport's datagram-level counters. Counters only grow;
// Sessions and Pending are gauges. The JSON names are the tags below.
type KCPStats struct {
	Sessions int `json:"sessions"` // entries in the session table (open sessions and Pending)
	Pending  int `json:"pending"`  // addresses admitted whose session is not accepted yet

	DatagramsIn  uint64 `json:"datagrams_in"`  // read from the socket, dropped ones included
	BytesIn      uint64 `json:"bytes_in"`      // bytes of DatagramsIn
	DatagramsOut uint64 `json:"datagrams_out"` // written to the socket
	BytesOut     uint64 `json:"bytes_out"`     // bytes of DatagramsOut
	Garbage      uint64 `json:"garbage"`       // dropped: malformed, or failed authentication
	ConvMismatch uint64 `json:"conv_mismatch"` // dropped: a known address with another conv
	Strays       uint64 `json:"strays"`        // dropped: well formed, from an unknown address, but cannot open a conversation
	Refused      uint64 `json:"refused"`       // dropped: would open a session beyond MaxSessions
	NotAccepting uint64 `json:"not_accepting"` // dropped: would open a session after StopAccepting
	Reaped       uint64 `json:"reaped"`        // sessions closed and pending entries dropped by IdleTimeout
	CookiesSent  uint64 `json:"cookies_sent"`  // cookie challenges sent to new addresses (Config.Cookies)
	CookiesOK    uint64 `json:"cookies_ok"`    // challenges answered with the right cookie
	CookiesBad   uint64 `json:"cookies_bad"`   // challenge answers with a wrong cookie (dropped)
	// Retransmits counts PUSH segments this transport sent again (plain
	// and FEC mode; 0 with a Key, where the gate cannot read them).
	Retransmits uint64 `json:"retransmits"`

	// Process-wide kcp-go counters (kcp.DefaultSnmp): every kcp-go session
	// in the process, clients included.
	ProcessRetransSegs     uint64 `json:"process_retrans_segs"`      // segments retransmitted, all causes
	ProcessFastRetransSegs uint64 `json:"process_fast_retrans_segs"` // ... by fast retransmit
	ProcessLostSegs        uint64 `json:"process_lost_segs"`         // ... by RTO
	ProcessRepeatSegs      uint64 `json:"process_repeat_segs"`       // duplicate segments received
}

// Add adds o, the counters of a transport in another process, into s:
// everything is summed, the process-wide counters too (each process has
// its own).
func (s *KCPStats) Add(o KCPStats) {
	s.Sessions += o.Sessions
	s.Pending += o.Pending
	s.DatagramsIn += o.DatagramsIn
	s.BytesIn += o.BytesIn
	s.DatagramsOut += o.DatagramsOut
	s.BytesOut += o.BytesOut
	s.Garbage += o.Garbage
	s.ConvMismatch += o.ConvMismatch
	s.Strays += o.Strays
	s.Refused += o.Refused
	s.NotAccepting += o.NotAccepting
	s.Reaped += o.Reaped
	s.CookiesSent += o.CookiesSent
	s.CookiesOK += o.CookiesOK
	s.CookiesBad += o.CookiesBad
	s.Retransmits += o.Retransmits
	s.ProcessRetransSegs += o.ProcessRetransSegs
	s.ProcessFastRetransSegs += o.ProcessFastRetransSegs
	s.ProcessLostSegs += o.ProcessLostSegs
	s.ProcessRepeatSegs += o.ProcessRepeatSegs
}

// KCPStats returns a snapshot of the datagram-level counters.
func (t *Transport) KCPStats() KCPStats {
	g := &t.gate.ctr
	s := KCPStats{
		DatagramsIn:  g.datagramsIn.Load(),
		BytesIn:      g.bytesIn.Load(),
		DatagramsOut: g.datagramsOut.Load(),
		BytesOut:     g.bytesOut.Load(),
		Garbage:      g.garbage.Load(),
		ConvMismatch: g.mismatch.Load(),
		Strays:       g.strays.Load(),
		Refused:      g.refused.Load(),
		NotAccepting: g.stopped.Load(),
		Reaped:       g.reaped.Load(),
		CookiesSent:  g.cookiesSent.Load(),
		CookiesOK:    g.cookiesOK.Load(),
		CookiesBad:   g.cookiesBad.Load(),
		Retransmits:  g.retransmits.Load(),
	}
	s.Sessions, s.Pending = t.gate.counts()
	snmp := kcpgo.DefaultSnmp.Copy()
	s.ProcessRetransSegs = snmp.RetransSegs
	s.ProcessFastRetransSegs = snmp.FastRetransSegs
	s.ProcessLostSegs = snmp.LostSegs
	s.ProcessRepeatSegs = snmp.RepeatSegs
	return s
}
