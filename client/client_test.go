package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wharf/packet"
	"wharf/server"
)

func TestRequest(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	c := dial(t, ts.addr, Config{})
	largest := bytes.Repeat([]byte("x"), packet.DefaultMaxPacket-packet.HeaderSize)
	tests := []struct {
		name    string
		code    uint16
		body    []byte
		want    []byte
		wantErr error        // matched with errors.Is
		wantSrv *ServerError // a code 1 reply
	}{
		{name: "echo", code: codeEcho, body: []byte("hello"), want: []byte("hello")},
		{name: "empty body", code: codeEcho, body: nil, want: nil},
		{name: "largest packet", code: codeEcho, body: largest, want: largest},
		{name: "one byte too large", code: codeEcho, body: append(largest, 'x'), wantErr: ErrTooLarge},
		{name: "ping", code: packet.CodePing, want: nil},
		{name: "unknown code", code: codeNone, body: []byte("?"), wantSrv: &ServerError{Code: codeNone, Message: "unknown code 99"}},
		{name: "code 1 is the server's", code: packet.CodeError, wantErr: ErrReservedCode},
		{name: "push code", code: CodeMessage, wantErr: ErrReservedCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Request(ctxTimeout(t, 10*time.Second), tt.code, tt.body)
			switch {
			case tt.wantSrv != nil:
				var se *ServerError
				if !errors.As(err, &se) || *se != *tt.wantSrv {
					t.Fatalf("err = %v, want %+v", err, tt.wantSrv)
				}
				if want := "client: server error for code 99: unknown code 99"; err.Error() != want {
					t.Fatalf("message %q, want %q", err, want)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !bytes.Equal(got, tt.want):
				t.Fatalf("reply %.40q (%d bytes), want %.40q (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
		})
	}
	// The connection survived all of it.
	if got, err := c.Request(ctxTimeout(t, 10*time.Second), codeEcho, []byte("still")); err != nil || string(got) != "still" {
		t.Fatalf("after the table: %q, %v", got, err)
	}
}

// Many goroutines pipeline requests of several codes on one connection;
// each must get its own reply.
func TestPipelinedRequests(t *testing.T) {
	ts := startServer(t, server.Config{Handlers: 4}, "")
	c := dial(t, ts.addr, Config{})
	const goroutines, each = 50, 100
	codes := []uint16{codeEcho, codeEcho2, packet.CodePing, codeNone}
	const errsWant = goroutines * each / 4 // one code in four is codeNone
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			ctx := ctxTimeout(t, 30*time.Second)
			var buf []byte
			for i := range each {
				code := codes[(g+i)%len(codes)]
				body := fmt.Appendf(nil, "g%d-i%d", g, i)
				if code == packet.CodePing {
					body = nil
				}
				var err error
				buf, err = c.AppendReply(ctx, buf[:0], code, body)
				var se *ServerError
				switch {
				case code == codeNone:
					if !errors.As(err, &se) || se.Code != codeNone {
						errs <- fmt.Errorf("code %d: err %v, want a server error", code, err)
						return
					}
				case err != nil:
					errs <- fmt.Errorf("code %d body %s: %w", code, body, err)
					return
				case !bytes.Equal(buf, body):
					errs <- fmt.Errorf("code %d: sent %q, got %q", code, body, buf)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := c.Stats()
	if st.Replies+st.ServerErrors != goroutines*each || st.ServerErrors != errsWant {
		t.Errorf("Stats: %d replies + %d server errors, want %d with %d errors", st.Replies, st.ServerErrors, goroutines*each, errsWant)
	}
}

// Pushes reach OnPush in order; they do not answer a later request of the
// same code, and a dropped push is counted.
func TestPushes(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	var mu sync.Mutex
	var got []string
	c := dial(t, ts.addr, Config{OnPush: func(code uint16, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%d:%s", code, body))
	}})
	ctx := ctxTimeout(t, 10*time.Second)
	const n = 50
	reply, err := c.Request(ctx, codePushes, []byte(fmt.Sprint(n)))
	if err != nil || string(reply) != "done" {
		t.Fatalf("Request: %q, %v", reply, err)
	}
	// The server sent the pushes before the reply, and one goroutine reads
	// both: they have all been delivered by now.
	mu.Lock()
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("%d:push-%d", codeEcho2, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pushes:\n got %q\nwant %q", got, want)
	}
	mu.Unlock()
	if reply, err := c.Request(ctx, codeEcho2, []byte("mine")); err != nil || string(reply) != "mine" {
		t.Fatalf("request of the pushes' code: %q, %v", reply, err)
	}
	if st := c.Stats(); st.Pushes != n || st.PushesDropped != 0 {
		t.Fatalf("Stats.Pushes = %d, PushesDropped = %d, want %d, 0", st.Pushes, st.PushesDropped, n)
	}

	quiet := dial(t, ts.addr, Config{}) // no OnPush
	if _, err := quiet.Request(ctx, codePushes, []byte("3")); err != nil {
		t.Fatal(err)
	}
	if st := quiet.Stats(); st.PushesDropped != 3 {
		t.Fatalf("PushesDropped = %d, want 3", st.PushesDropped)
	}
}

// A request that times out keeps its place: its late reply is dropped and
// the next request of the code gets its own reply.
func TestTimeoutThenLateReply(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	tests := []struct {
		name    string
		cfg     Config
		ctx     func() (context.Context, context.CancelFunc)
		wantErr []error
	}{
		{
			name: "context deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 30*time.Millisecond)
			},
			wantErr: []error{ErrTimeout, context.DeadlineExceeded},
		},
		{
			name:    "Config.RequestTimeout",
			cfg:     Config{RequestTimeout: 30 * time.Millisecond},
			ctx:     func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			wantErr: []error{ErrTimeout, context.DeadlineExceeded},
		},
		{
			name: "cancelled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(30*time.Millisecond, cancel)
				return ctx, cancel
			},
			wantErr: []error{context.Canceled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ts.addr, tt.cfg)
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := c.Request(ctx, codeSlow, []byte("300ms|first"))
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want it to match %v", err, want)
				}
			}
			// Same code: the server answers "first" and then this one.
			reply, err := c.Request(ctxTimeout(t, 10*time.Second), codeSlow, []byte("0s|second"))
			if err != nil || string(reply) != "second" {
				t.Fatalf("next request got %q, %v; want its own reply", reply, err)
			}
			if st := c.Stats(); st.Late != 1 || st.Timeouts != 1 || st.Errors != 1 {
				t.Fatalf("Stats: Late %d Timeouts %d Errors %d, want 1 1 1", st.Late, st.Timeouts, st.Errors)
			}
		})
	}
}

// Send's reply is dropped and does not answer the next request.
func TestSend(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	c := dial(t, ts.addr, Config{})
	for i := range 5 {
		if err := c.Send(codeEcho, fmt.Appendf(nil, "fire-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := c.Request(ctxTimeout(t, 10*time.Second), codeEcho, []byte("mine"))
	if err != nil || string(reply) != "mine" {
		t.Fatalf("got %q, %v; want the request's own reply", reply, err)
	}
	if err := c.Send(packet.CodeError, nil); !errors.Is(err, ErrReservedCode) {
		t.Fatalf("Send(code 1) = %v", err)
	}
	c.Close()
	if err := c.Send(codeEcho, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
}

func TestPing(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	c := dial(t, ts.addr, Config{})
	rtt, err := c.Ping(ctxTimeout(t, 10*time.Second))
	if err != nil || rtt <= 0 {
		t.Fatalf("Ping = %v, %v", rtt, err)
	}
}

func TestKeepAlive(t *testing.T) {
	t.Run("keeps an idle client connected", func(t *testing.T) {
		ts := startServer(t, server.Config{IdleTimeout: 200 * time.Millisecond}, "")
		c := dial(t, ts.addr, Config{KeepAlive: 50 * time.Millisecond})
		time.Sleep(time.Second) // five idle timeouts
		select {
		case <-c.Done():
			t.Fatalf("client ended: %v", c.Err())
		default:
		}
		if _, err := c.Request(ctxTimeout(t, 10*time.Second), codeEcho, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if k := ts.srv.Stats().Kicks[server.KickIdle]; k != 0 {
			t.Fatalf("server kicked %d idle connections", k)
		}
		if st := c.Stats(); st.KeepAlives < 3 || st.Disconnects != 0 {
			t.Fatalf("KeepAlives = %d, Disconnects = %d; want several pings and no drop", st.KeepAlives, st.Disconnects)
		}
	})
	t.Run("without it the server kicks", func(t *testing.T) {
		ts := startServer(t, server.Config{IdleTimeout: 200 * time.Millisecond}, "")
		c := dial(t, ts.addr, Config{KeepAlive: -1})
		waitDone(t, c)
		if !errors.Is(c.Err(), ErrConnLost) {
			t.Fatalf("Err = %v, want ErrConnLost", c.Err())
		}
		eventually(t, "the idle kick", func() bool { return ts.srv.Stats().Kicks[server.KickIdle] == 1 })
	})
	t.Run("no pings while requests flow", func(t *testing.T) {
		ts := startServer(t, server.Config{}, "")
		c := dial(t, ts.addr, Config{KeepAlive: 150 * time.Millisecond})
		ctx := ctxTimeout(t, 10*time.Second)
		n := 0
		for start := time.Now(); time.Since(start) < 600*time.Millisecond; n++ {
			if _, err := c.Request(ctx, codeEcho, []byte("busy")); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		if st := c.Stats(); st.KeepAlives != 0 {
			t.Fatalf("client sent %d keep-alive pings while busy", st.KeepAlives)
		}
		// The server saw exactly the requests: no ping among its packets.
		if in, handled := ts.srv.Stats().PacketsIn, ts.handled.Load(); in != uint64(handled) || handled != int64(n) {
			t.Fatalf("server: %d packets in, %d handled, %d sent; want no pings", in, handled, n)
		}
	})
}

// freeAddr returns a loopback address whose port was free a moment ago, so
// that a server can be stopped and another started on the same address.
// The race: between Close here and the server's Listen, another process
// could take the port (the kernel hands ephemeral ports out in a rotating
// order, so it is rare); the test then fails at Listen rather than
// misbehaving.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestReconnect(t *testing.T) {
	addr := freeAddr(t)
	s1 := startServer(t, server.Config{}, addr)
	var mu sync.Mutex
	var states []State
	c := dial(t, addr, Config{
		Reconnect:  true,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
		OnState: func(s State, err error) {
			mu.Lock()
			defer mu.Unlock()
			if len(states) == 0 || states[len(states)-1] != s { // collapse repeated reconnecting
				states = append(states, s)
			}
		},
	})
	ctx := ctxTimeout(t, 20*time.Second)
	if _, err := c.Request(ctx, codeEcho, []byte("one")); err != nil {
		t.Fatal(err)
	}

	// A request outstanding when the server goes away fails, and says so.
	outstanding := make(chan error, 1)
	go func() {
		_, err := c.Request(ctx, codeHold, nil)
		outstanding <- err
	}()
	<-s1.held
	s1.stop(t, 100*time.Millisecond) // the held handler never replies
	err := <-outstanding
	var ce *ConnError
	if !errors.Is(err, ErrConnLost) || !errors.As(err, &ce) || ce.Addr != addr || !strings.Contains(err.Error(), "server shutting down") {
		t.Fatalf("outstanding request: %v; want a ConnError naming the address and the shutdown", err)
	}

	// With no server, a request waits for a connection within its deadline.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = c.Request(short, codeEcho, []byte("nobody"))
	cancel()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("request with no server: %v, want ErrTimeout", err)
	}
	if err := c.Send(codeEcho, nil); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Send with no server: %v, want ErrNotConnected", err)
	}

	// A request made now completes once a new server is up.
	waiting := make(chan error, 1)
	go func() {
		reply, err := c.Request(ctx, codeEcho, []byte("two"))
		if err == nil && string(reply) != "two" {
			err = fmt.Errorf("reply %q", reply)
		}
		waiting <- err
	}()
	startServer(t, server.Config{}, addr)
	if err := <-waiting; err != nil {
		t.Fatalf("request across the reconnection: %v", err)
	}
	if _, err := c.Request(ctx, codeEcho, []byte("three")); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Reconnects != 1 || st.Disconnects != 1 {
		t.Fatalf("Reconnects = %d, Disconnects = %d, want 1, 1", st.Reconnects, st.Disconnects)
	}
	mu.Lock()
	want := []State{StateConnected, StateDisconnected, StateReconnecting, StateConnected}
	if !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
	mu.Unlock()
	c.Close()
	mu.Lock()
	if states[len(states)-1] != StateClosed {
		t.Errorf("last state %v, want closed", states[len(states)-1])
	}
	mu.Unlock()
}

func TestCloseFailsRequestsInFlight(t *testing.T) {
	t.Run("waiting for replies", func(t *testing.T) {
		ts := startServer(t, server.Config{}, "")
		c := dial(t, ts.addr, Config{RequestTimeout: time.Minute})
		const n = 10
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := c.Request(context.Background(), codeHold, nil)
				errs <- err
			}()
		}
		<-ts.held // the first is in the handler, the rest queued behind it
		eventually(t, "all requests sent", func() bool { return c.Stats().Sent == n })
		c.Close()
		for range n {
			select {
			case err := <-errs:
				if err != ErrClosed {
					t.Fatalf("in-flight request: %v, want ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("in-flight request still waiting after Close")
			}
		}
		if _, err := c.Request(context.Background(), codeEcho, nil); err != ErrClosed {
			t.Fatalf("Request after Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if c.Err() != ErrClosed {
			t.Fatalf("Err = %v", c.Err())
		}
		waitDone(t, c)
	})
	t.Run("waiting for a connection", func(t *testing.T) {
		ts := startServer(t, server.Config{}, "")
		c := dial(t, ts.addr, Config{Reconnect: true, MinBackoff: time.Hour, MaxBackoff: time.Hour, RequestTimeout: time.Minute})
		ts.stop(t, time.Second)
		eventually(t, "the drop", func() bool { return !c.Connected() })
		errs := make(chan error, 1)
		go func() {
			_, err := c.Request(context.Background(), codeEcho, nil)
			errs <- err
		}()
		time.Sleep(20 * time.Millisecond) // let it start waiting (not required for the outcome)
		c.Close()
		select {
		case err := <-errs:
			if err != ErrClosed {
				t.Fatalf("waiting request: %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("request still waiting after Close")
		}
	})
	t.Run("from a callback", func(t *testing.T) {
		ts := startServer(t, server.Config{}, "")
		var c *Client
		ready := make(chan struct{})
		c = dial(t, ts.addr, Config{OnPush: func(uint16, []byte) { <-ready; c.Close() }})
		close(ready)
		if _, err := c.Request(ctxTimeout(t, 10*time.Second), codePushes, []byte("1")); err != ErrClosed {
			t.Fatalf("Request: %v, want ErrClosed (OnPush closed the client)", err)
		}
		waitDone(t, c)
	})
}

// The server's shutdown notice arrives as a push, then the client ends.
func TestShutdownNotice(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	type push struct {
		code uint16
		body string
	}
	pushes := make(chan push, 10)
	var states []State
	var mu sync.Mutex
	c := dial(t, ts.addr, Config{
		OnPush: func(code uint16, body []byte) { pushes <- push{code, string(body)} },
		OnState: func(s State, _ error) {
			mu.Lock()
			states = append(states, s)
			mu.Unlock()
		},
	})
	// Until the server has accepted the connection, a shutdown resets it
	// without a notice.
	if _, err := c.Ping(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	ts.stop(t, 5*time.Second)
	waitDone(t, c)
	select {
	case p := <-pushes:
		if p.code != packet.CodeError || p.body != `{"code":0,"error":"server shutting down"}` {
			t.Fatalf("push %d %s, want the shutdown notice", p.code, p.body)
		}
	default:
		t.Fatal("Done closed before the notice was pushed")
	}
	if err := c.Err(); !errors.Is(err, ErrConnLost) || !strings.Contains(err.Error(), "server shutting down") {
		t.Fatalf("Err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []State{StateConnected, StateDisconnected, StateClosed}; !slices.Equal(states, want) {
		t.Fatalf("states %v, want %v", states, want)
	}
}

// A server that breaks the protocol.
func TestHostileServer(t *testing.T) {
	header := func(length, code uint16, crc uint32) []byte {
		b := make([]byte, packet.HeaderSize)
		packet.Header{Length: length, Code: code, CRC: crc}.Put(b)
		return b
	}
	badCRC := append(header(9, codeEcho, 1), 'x')
	good, _ := packet.Encode(codeEcho, []byte("ok"))
	tests := []struct {
		name     string
		cfg      Config
		reply    [][]byte // written after the request is read
		wantErr  error    // for the request and Err; nil: the request succeeds
		wantText string   // in the error
		wantBad  uint64   // Stats.BadPackets
	}{
		{name: "length below the header", reply: [][]byte{header(3, codeEcho, 0)}, wantErr: packet.ErrLength, wantText: "length 3 out of range"},
		{name: "length above MaxPacket", reply: [][]byte{header(60000, codeEcho, 0)}, wantErr: packet.ErrLength, wantText: "length 60000 out of range"},
		{name: "length above a lower MaxPacket", cfg: Config{MaxPacket: 64}, reply: [][]byte{header(100, codeEcho, 0)}, wantErr: packet.ErrLength, wantText: "length 100 out of range [8, 64]"},
		{name: "stream ends inside a packet", reply: [][]byte{header(100, codeEcho, 0), []byte("short")}, wantErr: errors.New("unexpected EOF"), wantText: "unexpected EOF"},
		{name: "too many bad checksums", reply: [][]byte{badCRC, badCRC, badCRC}, wantErr: packet.ErrTooManyBadPackets, wantText: "too many bad packets", wantBad: 3},
		{name: "one bad checksum is dropped", reply: [][]byte{badCRC, good}, wantBad: 1},
		{name: "keep-alive unanswered", cfg: Config{KeepAlive: 30 * time.Millisecond}, wantErr: ErrKeepAlive, wantText: "no reply to keep-alive ping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, func(nc net.Conn) {
				if _, _, err := packet.NewReader(nc).ReadPacket(); err != nil {
					return
				}
				for _, b := range tt.reply {
					nc.Write(b)
				}
				if tt.wantErr == nil || tt.wantErr == ErrKeepAlive {
					silentConn(nc)
				}
			})
			c := dial(t, addr, tt.cfg)
			reply, err := c.Request(ctxTimeout(t, 10*time.Second), codeEcho, []byte("ok"))
			if tt.wantErr == nil {
				if err != nil || string(reply) != "ok" {
					t.Fatalf("Request = %q, %v", reply, err)
				}
			} else {
				for _, e := range []error{err, func() error { waitDone(t, c); return c.Err() }()} {
					if !errors.Is(e, ErrConnLost) || !strings.Contains(e.Error(), tt.wantText) {
						t.Fatalf("error %v, want a connection error saying %q", e, tt.wantText)
					}
					if tt.wantErr.Error() != "unexpected EOF" && !errors.Is(e, tt.wantErr) {
						t.Fatalf("error %v does not match %v", e, tt.wantErr)
					}
				}
			}
			if st := c.Stats(); st.BadPackets != tt.wantBad {
				t.Fatalf("BadPackets = %d, want %d", st.BadPackets, tt.wantBad)
			}
		})
	}
}

func TestDial(t *testing.T) {
	ts := startServer(t, server.Config{}, "")
	sock := filepath.Join(t.TempDir(), "w.sock")
	us, err := server.New(server.Config{Logger: quietLogger(), StatsInterval: -1}, ts.router())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := us.Listen("unix://" + sock); err != nil {
		t.Fatal(err)
	}
	if err := us.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { us.Shutdown(context.Background()) })
	closed := freeAddr(t)
	var dials atomic.Int64
	counting := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
		return d.DialContext(ctx, network, addr)
	}
	tests := []struct {
		name     string
		addr     string
		cfg      Config
		wantText string // in the error; "" for success
	}{
		{name: "tcp", addr: ts.addr},
		{name: "tcp scheme", addr: "tcp://" + ts.addr},
		{name: "unix socket", addr: "unix://" + sock},
		{name: "custom dialer", addr: ts.addr, cfg: Config{Dialer: counting}},
		{name: "refused", addr: closed, wantText: "client: dial " + closed + ": "},
		{name: "empty address", addr: "", wantText: "bad address"},
		{name: "unknown scheme", addr: "http://" + ts.addr, wantText: "scheme must be tcp, tcp4, tcp6, unix, kcp, tls, ws or wss"},
		{name: "junk after the port", addr: "tcp://" + ts.addr + "/x", wantText: `unexpected "/x" after the port`},
		{name: "bad MaxPacket", addr: ts.addr, cfg: Config{MaxPacket: 70000}, wantText: "Config.MaxPacket"},
		{name: "bad backoff", addr: ts.addr, cfg: Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}, wantText: "Config.MaxBackoff"},
		{name: "reserved push code", addr: ts.addr, cfg: Config{PushCodes: []uint16{1}}, wantText: "Config.PushCodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(ctxTimeout(t, 5*time.Second), tt.addr, tt.cfg)
			if tt.wantText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("Dial = %v, want an error containing %q", err, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if reply, err := c.Request(ctxTimeout(t, 10*time.Second), codeEcho, []byte("hi")); err != nil || string(reply) != "hi" {
				t.Fatalf("Request = %q, %v", reply, err)
			}
		})
	}
	if dials.Load() != 1 {
		t.Fatalf("custom dialer called %d times, want 1", dials.Load())
	}
	var de *DialError
	_, err = Dial(ctxTimeout(t, 5*time.Second), closed, Config{})
	if !errors.As(err, &de) || de.Addr != closed {
		t.Fatalf("refused dial: %v, want a *DialError with the address", err)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 10*time.Second
	tests := []struct {
		attempt int
		min     time.Duration
		max     time.Duration
	}{
		{attempt: 0, min: 50 * time.Millisecond, max: 100 * time.Millisecond},
		{attempt: 1, min: 100 * time.Millisecond, max: 200 * time.Millisecond},
		{attempt: 5, min: 1600 * time.Millisecond, max: 3200 * time.Millisecond},
		{attempt: 7, min: 5 * time.Second, max: 10 * time.Second},
		{attempt: 100, min: 5 * time.Second, max: 10 * time.Second},
	}
	for _, tt := range tests {
		for range 100 {
			if d := backoff(tt.attempt, lo, hi); d < tt.min || d > tt.max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tt.attempt, d, tt.min, tt.max)
			}
		}
	}
}
