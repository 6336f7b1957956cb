package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"wharf/engine"
	"wharf/internal/loadgen"
	"wharf/packet"
)

// The demo application's codes (SPEC §2).
const (
	codeRegister uint16 = 5
	codeLogin    uint16 = 6
	codeSay      uint16 = 7
	codeMessage  uint16 = 8
)

// Traffic mixes of the packet subcommand.
const (
	mixPing    = "ping"    // code 0, answered by the server on its event loop
	mixRequest = "request" // -code with an -s byte body, for a router of your own
	mixChat    = "chat"    // register, log in, then say and ping (wharfd's demo app)
)

// Connection phases under -mix chat.
const (
	phaseRun      uint8 = iota // sending the mix
	phaseRegister              // register sent, waiting for its reply
	phaseLogin                 // login sent, waiting for its reply
	phaseFailed                // could not log in; closing
)

// intervalRate is the most packets/s per connection that wharfd's
// flood_mode "interval" with its default numbers allows (ten packets in a
// row, each less than 100ms after the previous one, close the connection).
const intervalRate = 9

// packetBench speaks the packet protocol (SPEC §2). Replies are matched to
// requests in order per code: the server answers a connection's requests in
// order, except pings, which it answers at once on its event loop, ahead of
// requests still queued for a worker; so pings and other requests keep
// separate FIFOs.
type packetBench struct {
	*tcpBench
	mix      string
	code     int
	depth    int
	sayRatio float64
	prefix   string
	password string
	offset   int
	resume   func(engine.Conn)

	ping []byte // an encoded ping
	req  []byte // an encoded request (-mix request) or say (-mix chat)

	loginRec                                  *loadgen.Recorder
	registered, existing, loggedIn, loginFail atomic.Int64
	loginsPending                             atomic.Int64
	loginFirst, loginLast                     atomic.Int64 // now values
	pushes, pushBytes                         atomic.Int64
	loggedInCh                                chan struct{} // closed when loginsPending reaches 0
}

// packetConn is one connection's state; owned by its event loop.
type packetConn struct {
	loadgen.Pace
	dec     packet.Decoder
	pings   loadgen.Ring // send times of pings in flight
	reqs    loadgen.Ring // send times of other requests in flight
	reqCode uint16
	phase   uint8
	user    int
	setup   int64 // when registering started (a now value)
	notice  bool  // the server announced its shutdown
}

func newPacket(o *loadgen.Options) loadgen.Bench {
	p := &packetBench{tcpBench: newTCPBench(o), loggedInCh: make(chan struct{})}
	p.resume = p.fillConn
	return p
}

func (p *packetBench) Flags(fs *flag.FlagSet) {
	p.o.Flags(fs, "127.0.0.1:7000", true, 16)
	fs.StringVar(&p.mix, "mix", mixPing, "traffic: ping (code 0), request (-code with an -s byte body) or chat (register, login, then say/ping)")
	fs.IntVar(&p.code, "code", 2, "request code for -mix request (the server must answer it with the same code)")
	fs.IntVar(&p.depth, "depth", 1, "requests in flight per connection")
	fs.Float64Var(&p.sayRatio, "say-ratio", 0.5, "-mix chat: fraction of requests that are says (the rest are pings)")
	fs.StringVar(&p.prefix, "prefix", "wb", "-mix chat: usernames are PREFIX and a number")
	fs.StringVar(&p.password, "password", "wharf-bench-password", "-mix chat: the password of every user")
	fs.IntVar(&p.offset, "user-offset", 0, "-mix chat: number of the first user (connection i is user PREFIX<offset+i>)")
	fs.IntVar(&p.o.Loops, "loops", 0, "event loops of the generator (0: one per CPU)")
}

func (p *packetBench) Setup() error {
	if p.depth < 1 {
		return fmt.Errorf("-depth must be at least 1, got %d", p.depth)
	}
	var err error
	p.ping, _ = packet.Encode(packet.CodePing, nil)
	switch p.mix {
	case mixPing:
	case mixRequest:
		if p.code < 2 || p.code > 65535 {
			return fmt.Errorf("-code must be between 2 and 65535 (0 and 1 are the protocol's), got %d", p.code)
		}
		body := bytes.Repeat([]byte{'x'}, p.o.Size)
		if p.req, err = packet.Encode(uint16(p.code), body); err != nil {
			return fmt.Errorf("-s: %w", err)
		}
	case mixChat:
		if p.sayRatio < 0 || p.sayRatio > 1 {
			return fmt.Errorf("-say-ratio must be between 0 and 1, got %g", p.sayRatio)
		}
		if p.o.Size < 1 {
			return fmt.Errorf("-s (the say text length) must be at least 1")
		}
		if !validUsername(p.prefix + strconv.Itoa(p.offset+p.o.Conns)) {
			return fmt.Errorf("-prefix %q: usernames must be 3-32 characters of A-Z a-z 0-9 _ . -", p.prefix)
		}
		if n := len(p.password); n < 8 || n > 72 {
			return fmt.Errorf("-password must be 8 to 72 bytes")
		}
		body, _ := json.Marshal(map[string]string{"text": strings.Repeat("x", p.o.Size)})
		if p.req, err = packet.Encode(codeSay, body); err != nil {
			return fmt.Errorf("-s: %w", err)
		}
	default:
		return fmt.Errorf("-mix must be ping, request or chat, got %q", p.mix)
	}
	p.loginRec = loadgen.NewRecorder(p.o.Loops)
	return nil
}

func validUsername(s string) bool {
	if len(s) < 3 || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

func (p *packetBench) Start(ctx context.Context) error {
	if err := p.startEngine(p); err != nil {
		return err
	}
	if p.mix == mixChat {
		p.loginsPending.Store(int64(p.o.Conns))
	}
	p.dialAll(ctx, func(i int) any {
		st := &packetConn{Pace: p.StartPace(i), pings: loadgen.NewRing(p.depth), reqs: loadgen.NewRing(p.depth), user: p.offset + i}
		st.dec.MaxBadPackets = -1 // count bad packets, keep the connection
		return st
	})
	if p.mix != mixChat {
		return nil
	}
	// Connections that failed to dial will never log in.
	p.loginDone(p.Failed.Load())
	select {
	case <-p.loggedInCh:
	case <-p.Done():
	case <-ctx.Done():
	}
	return nil
}

// loginDone counts n connections out of the login phase.
func (p *packetBench) loginDone(n int64) {
	if n > 0 && p.loginsPending.Add(-n) == 0 {
		close(p.loggedInCh)
	}
}

func (p *packetBench) OnOpen(c engine.Conn) {
	p.Opened()
	st := c.Context().(*packetConn)
	switch p.mix {
	case mixChat:
		st.setup = p.Now()
		p.loginFirst.CompareAndSwap(0, st.setup)
		st.phase = phaseRegister
		p.sendCreds(c, st, codeRegister)
	case mixRequest:
		st.reqCode = uint16(p.code)
		p.fill(c, st)
	default:
		p.fill(c, st)
	}
}

// sendCreds sends a register or login request for st's user.
func (p *packetBench) sendCreds(c engine.Conn, st *packetConn, code uint16) {
	body, _ := json.Marshal(map[string]string{"username": p.prefix + strconv.Itoa(st.user), "password": p.password})
	pkt, _ := packet.Encode(code, body)
	c.Write(pkt)
}

// appReply is the demo application's reply body.
type appReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func (p *packetBench) OnData(c engine.Conn) error {
	st := c.Context().(*packetConn)
	for {
		code, body, err := st.dec.Next(c)
		switch {
		case err == packet.ErrIncomplete:
			if st.phase == phaseRun {
				p.fill(c, st)
			}
			return nil
		case packet.Fatal(err):
			return &loadgen.ProtocolError{Msg: err.Error()}
		case err != nil:
			p.Errs.Add("packet:bad_crc", 1)
			continue
		}
		now := p.Now()
		switch {
		case code == codeMessage:
			p.pushes.Add(1)
			p.pushBytes.Add(int64(packet.HeaderSize + len(body)))
		case code == packet.CodeError:
			p.serverError(c, st, body, now)
		case code == packet.CodePing:
			if st.pings.Len() == 0 {
				p.Errs.Add("packet:unexpected_reply", 1)
				continue
			}
			p.Complete(c.Loop(), st.pings.Pop(), now)
		case st.phase == phaseRegister && code == codeRegister:
			var r appReply
			json.Unmarshal(body, &r)
			switch {
			case r.OK:
				p.registered.Add(1)
			case strings.Contains(r.Error, "taken"):
				p.existing.Add(1) // an earlier run's user: log in anyway
			default:
				p.Errs.Add("register:refused", 1)
			}
			st.phase = phaseLogin
			p.sendCreds(c, st, codeLogin)
		case st.phase == phaseLogin && code == codeLogin:
			var r appReply
			json.Unmarshal(body, &r)
			p.loginDone(1)
			if !r.OK {
				p.loginFail.Add(1)
				p.Errs.Add("login:refused", 1)
				st.phase = phaseFailed
				c.Close()
				return nil
			}
			p.loggedIn.Add(1)
			p.loginRec.Record(c.Loop(), time.Duration(now-st.setup))
			for l := p.loginLast.Load(); now > l && !p.loginLast.CompareAndSwap(l, now); l = p.loginLast.Load() {
			}
			st.phase = phaseRun
			st.reqCode = codeSay
		case st.phase == phaseRun && code == st.reqCode && st.reqs.Len() > 0:
			if code == codeSay && !bytes.HasPrefix(body, []byte(`{"ok":true`)) {
				p.Errs.Add("say:refused", 1)
			}
			p.Complete(c.Loop(), st.reqs.Pop(), now)
		default:
			p.Errs.Add("packet:unexpected_reply", 1)
		}
	}
}

// serverError handles a code 1 packet: the error reply to the oldest
// request of the code it names, or the shutdown notice.
func (p *packetBench) serverError(c engine.Conn, st *packetConn, body []byte, now int64) {
	var e struct {
		Code       uint16  `json:"code"`
		Error      string  `json:"error"`
		RetryAfter float64 `json:"retry_after"`
	}
	json.Unmarshal(body, &e)
	if e.Error == loadgen.ShutdownNotice {
		st.notice = true
		return
	}
	kind := "server:error"
	switch {
	case e.Error == "overloaded":
		kind = "server:overloaded"
	case e.RetryAfter > 0: // a rate limit or a busy server (packet/SPEC.md)
		kind = "server:rate_limited"
	}
	p.Errs.Add(kind, 1)
	switch {
	case e.Code == packet.CodePing && st.pings.Len() > 0:
		st.pings.Pop()
	case e.Code == st.reqCode && st.reqs.Len() > 0:
		st.reqs.Pop()
	case st.phase == phaseRegister || st.phase == phaseLogin:
		// A register or login refused by the server itself (overload):
		// this connection cannot log in.
		p.loginDone(1)
		p.loginFail.Add(1)
		st.phase = phaseFailed
		c.Close()
	}
}

func (p *packetBench) OnClose(c engine.Conn, err error) {
	st := c.Context().(*packetConn)
	if st.phase == phaseRegister || st.phase == phaseLogin {
		p.loginDone(1) // closed before it could log in
		if err != nil && !p.Stopping() {
			p.loginFail.Add(1)
		}
	}
	p.onClose(err, st.notice)
}

func (p *packetBench) fillConn(c engine.Conn) {
	st := c.Context().(*packetConn)
	st.Armed = false
	if st.phase == phaseRun {
		p.fill(c, st)
	}
}

// fill sends requests until -depth are in flight, or pacing or the budget
// says stop. Runs on c's loop.
func (p *packetBench) fill(c engine.Conn, st *packetConn) {
	for st.pings.Len()+st.reqs.Len() < p.depth {
		now := p.Now()
		if !p.paceOK(c, &st.Pace, now, p.resume) || !p.MayIssue() {
			return
		}
		pkt, r := p.ping, &st.pings
		if p.mix == mixRequest || (p.mix == mixChat && rand.Float64() < p.sayRatio) {
			pkt, r = p.req, &st.reqs
		}
		if _, err := c.Write(pkt); err != nil {
			return
		}
		r.Push(now)
	}
}

func (p *packetBench) Describe() string {
	s := p.Meter.Describe()
	if p.mix == mixChat {
		s += fmt.Sprintf("  logged in %d  pushes %s", p.loggedIn.Load(), loadgen.Num(p.pushes.Load()))
	}
	return s
}

func (p *packetBench) Finish(res *loadgen.Result) {
	p.drainAndClose(func(ctx any) int {
		st := ctx.(*packetConn)
		return st.pings.Len() + st.reqs.Len()
	})
	p.FillResult(res)
	if p.mix == mixChat {
		lg := &loadgen.Logins{
			Registered: p.registered.Load(),
			Existing:   p.existing.Load(),
			LoggedIn:   p.loggedIn.Load(),
			Failed:     p.loginFail.Load(),
			Latency:    p.loginRec.Snapshot().Summary(),
		}
		if first, last := p.loginFirst.Load(), p.loginLast.Load(); last > first {
			lg.DurationS = time.Duration(last - first).Seconds()
			lg.PerS = float64(lg.LoggedIn) / lg.DurationS
		}
		res.Logins = lg
		res.Pushes = &loadgen.Pushes{Count: p.pushes.Load(), Bytes: p.pushBytes.Load()}
	}
	res.Hints = append(res.Hints, packetHints(res, p.o, p.depth)...)
}

// packetHints explains the usual reasons a packet run goes wrong.
func packetHints(res *loadgen.Result, o *loadgen.Options, depth int) []string {
	var h []string
	kicked := res.Errors.ByKind["drop:server_closed"] + res.Errors.ByKind["drop:reset"]
	if kicked > 0 {
		if o.Rate == 0 || o.Rate/float64(o.Conns) > intervalRate {
			h = append(h, fmt.Sprintf("the server closed %d connections. wharfd's flood guard closes a connection that sends more than "+
				"[server] flood_burst packets at once or flood_rate packets/s sustained (defaults 5000 and 5000; "+
				"with flood_mode = \"interval\", 10 packets in a row each less than 100ms apart): for benchmarks raise them or "+
				"set flood_mode = \"off\", or pace with -rate at most flood_rate × -c (%d connections; %d for interval mode)",
				kicked, o.Conns, intervalRate*o.Conns))
		} else {
			h = append(h, fmt.Sprintf("the server closed %d connections: look at its kick counters (idle_timeout, max_connections, max_pending_per_conn)", kicked))
		}
	}
	if res.Errors.ByKind["drop:server_shutdown"] > 0 {
		h = append(h, "the server announced its shutdown and closed the connections")
	}
	if n := res.Errors.ByKind["server:rate_limited"]; n > 0 {
		h = append(h, fmt.Sprintf("the server refused %d requests with a rate limit (code 1 with retry_after): wharfd's chat allows a user "+
			"10 says at once and one a second ([chat] say_burst, say_interval; per address say_per_ip_burst, say_per_ip_interval; "+
			"registrations register_per_ip): lower -say-ratio or -rate, or raise them", n))
	}
	if res.Errors.ByKind["server:overloaded"] > 0 {
		h = append(h, fmt.Sprintf("the server answered \"overloaded\": its handler queue was full (lower -depth %d or -c, or raise its handlers)", depth))
	}
	if res.Logins != nil && res.Logins.Failed > 0 {
		h = append(h, "some logins failed: a user from an earlier run with another -password, or the login throttle (failed logins per IP); try another -prefix")
	}
	return h
}
