package tlsconn

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wharf/engine"
)

// recordWatcher is a net.Conn that notes the type of every TLS record it
// reads, so a TLS 1.2 test can see a close_notify alert arrive (in TLS 1.3
// every record is disguised as application data).
type recordWatcher struct {
	net.Conn
	mu    sync.Mutex
	buf   []byte
	types []byte
}

func (w *recordWatcher) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.mu.Lock()
	w.buf = append(w.buf, p[:n]...)
	for len(w.buf) >= 5 {
		size := 5 + int(binary.BigEndian.Uint16(w.buf[3:5]))
		if len(w.buf) < size {
			break
		}
		w.types = append(w.types, w.buf[0])
		w.buf = w.buf[size:]
	}
	w.mu.Unlock()
	return n, err
}

func (w *recordWatcher) lastType() byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.types) == 0 {
		return 0
	}
	return w.types[len(w.types)-1]
}

func dialWatched(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, *recordWatcher) {
	t.Helper()
	w := &recordWatcher{Conn: dialTCP(t, addr)}
	c := tls.Client(w, cfg)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	return c, w
}

// TestCloseNotify: either side's close_notify closes the connection
// cleanly. The client's: the request sent with it is served, the server
// answers with its own close_notify, and the inner handler sees io.EOF.
// The server's (Close): it follows the writes queued before it.
func TestCloseNotify(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(tls.VersionName(version), func(t *testing.T) {
				inner := newTH()
				inner.data = func(c engine.Conn) error {
					p, _ := c.Next(-1)
					if string(p) == "bye" {
						c.AsyncWrite([]byte("later"), nil)
						return c.Close()
					}
					_, err := c.Write(p)
					return err
				}
				s := startServer(t, k, serverConfig(cert), engine.Config{}, inner)
				ccfg := clientConfig(t)
				ccfg.MaxVersion = version

				// The client says goodbye right after a request.
				c, w := dialWatched(t, s.addr, ccfg)
				inner.waitOpen(t) // else both may arrive with the handshake: see below
				c.Write([]byte("last request"))
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if got := readFull(t, c, 12); string(got) != "last request" {
					t.Fatalf("read %q, want the answer to the request sent with close_notify", got)
				}
				if err := readErr(c); err != io.EOF {
					t.Fatalf("after the answer: %v, want io.EOF", err)
				}
				if version == tls.VersionTLS12 && w.lastType() != recordTypeAlert {
					t.Errorf("last record type %d, want the server's close_notify alert", w.lastType())
				}
				if ev := inner.waitClose(t); ev.err != io.EOF {
					t.Errorf("inner OnClose err = %v, want io.EOF", ev.err)
				}

				// Sent at once after the handshake, the request and the
				// close_notify may be read with the client's Finished and
				// wait for the switch to the loop, which runs inside a
				// Run: they are served the same, but the close cannot
				// carry io.EOF from there.
				c, _ = dialWatched(t, s.addr, ccfg)
				c.Write([]byte("last request"))
				c.CloseWrite()
				if got := readFull(t, c, 12); string(got) != "last request" {
					t.Fatalf("read %q, want the answer to the request sent with close_notify", got)
				}
				if err := readErr(c); err != io.EOF {
					t.Fatalf("after the answer: %v, want io.EOF", err)
				}
				if ev := inner.waitClose(t); ev.err != io.EOF && ev.err != nil {
					t.Errorf("inner OnClose err = %v, want io.EOF (or nil)", ev.err)
				}
				inner.waitOpen(t)

				// The server says goodbye after a queued write.
				c, w = dialWatched(t, s.addr, ccfg)
				c.Write([]byte("bye"))
				if got := readFull(t, c, 5); string(got) != "later" {
					t.Fatalf("read %q, want the write queued before Close", got)
				}
				if err := readErr(c); err != io.EOF {
					t.Fatalf("after Close: %v, want io.EOF", err)
				}
				if version == tls.VersionTLS12 && w.lastType() != recordTypeAlert {
					t.Errorf("last record type %d, want the server's close_notify alert", w.lastType())
				}
				if ev := inner.waitClose(t); ev.err != nil {
					t.Errorf("inner OnClose err = %v, want nil after Close", ev.err)
				}
			})
		}
	})
}

// TestLargeWrites: one Write of 4 MiB goes out as many records and
// arrives whole; 1 MiB from the client arrives whole at the handler.
func TestLargeWrites(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		inner := newTH()
		var got atomic.Int64
		inner.data = func(c engine.Conn) error {
			p, _ := c.Next(-1)
			if string(p) == "send" {
				_, err := c.Write(big)
				return err
			}
			got.Add(int64(len(p)))
			return nil
		}
		s := startServer(t, k, serverConfig(cert), engine.Config{MaxOutbound: 8 << 20}, inner)
		c := dialTLS(t, s.addr, clientConfig(t))
		c.Write([]byte("send"))
		if p := readFull(t, c, len(big)); !bytes.Equal(p, big) {
			t.Fatal("the 4 MiB write arrived differently")
		}
		if _, err := c.Write(big[:1<<20]); err != nil {
			t.Fatal(err)
		}
		eventually(t, "1 MiB at the handler", func() bool { return got.Load() == 1<<20 })
	})
}

// TestPipelinedSmallWrites: thousands of small records sent without
// waiting come back in order.
func TestPipelinedSmallWrites(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		const n = 5000
		s := startServer(t, k, serverConfig(cert), engine.Config{}, newTH())
		c := dialTLS(t, s.addr, clientConfig(t))
		var want bytes.Buffer
		for i := range n {
			fmt.Fprintf(&want, "%05d;", i)
		}
		errc := make(chan error, 1)
		go func() {
			b := want.Bytes()
			for i := 0; i < n; i++ {
				if _, err := c.Write(b[i*6 : i*6+6]); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		if got := readFull(t, c, want.Len()); !bytes.Equal(got, want.Bytes()) {
			t.Fatal("pipelined echo out of order or damaged")
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

// TestAsyncWriteOrder: AsyncWrites from many goroutines and loop-side
// Writes are each sealed whole, and one goroutine's writes keep their
// order: records reach the socket in the order they were sealed, or the
// client would fail to decrypt.
func TestAsyncWriteOrder(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		const writers, each = 8, 300
		inner := newTH()
		inner.data = func(c engine.Conn) error {
			c.Discard(-1)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						if err := c.AsyncWrite(fmt.Appendf(nil, "%d:%d;", w, i), nil); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			c.Write([]byte("loop;"))
			go func() { wg.Wait(); c.AsyncWrite([]byte("end;"), nil) }()
			return nil
		}
		s := startServer(t, k, serverConfig(cert), engine.Config{}, inner)
		c := dialTLS(t, s.addr, clientConfig(t))
		c.Write([]byte("go"))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		var stream []byte
		buf := make([]byte, 64<<10)
		for !bytes.HasSuffix(stream, []byte("end;")) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("read after %d bytes: %v", len(stream), err)
			}
			stream = append(stream, buf[:n]...)
		}
		next := make([]int, writers)
		loop := 0
		for _, m := range strings.Split(strings.TrimSuffix(string(stream), "end;"), ";") {
			if m == "" {
				continue
			}
			if m == "loop" {
				loop++
				continue
			}
			var w, i int
			if _, err := fmt.Sscanf(m, "%d:%d", &w, &i); err != nil {
				t.Fatalf("message %q is not one whole write", m)
			}
			if i != next[w] {
				t.Fatalf("writer %d: got #%d, want #%d", w, i, next[w])
			}
			next[w]++
		}
		for w, n := range next {
			if n != each {
				t.Errorf("writer %d: %d writes arrived, want %d", w, n, each)
			}
		}
		if loop != 1 {
			t.Errorf("the loop-side Write arrived %d times", loop)
		}
	})
}

// TestBackpressure: a client that stops reading raises the inner
// handler's high watermark (counted in wire bytes); once it reads again
// the low watermark follows and everything arrives.
func TestBackpressure(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		inner := newTH()
		high, low := make(chan struct{}), make(chan struct{})
		var sent atomic.Int64
		var stop atomic.Bool
		inner.watermark = func(c engine.Conn, h bool) {
			if h {
				if stop.CompareAndSwap(false, true) {
					close(high)
				}
			} else if stop.Load() {
				select {
				case <-low:
				default:
					close(low)
				}
			}
		}
		chunk := bytes.Repeat([]byte("w"), 16<<10)
		inner.data = func(c engine.Conn) error {
			c.Discard(-1)
			go func() {
				for !stop.Load() && sent.Load() < 256<<20 {
					if err := c.AsyncWrite(chunk, nil); err != nil {
						return
					}
					sent.Add(int64(len(chunk)))
					time.Sleep(10 * time.Microsecond)
				}
			}()
			return nil
		}
		ecfg := engine.Config{SocketSendBuffer: 16 << 10, WriteHighWater: 256 << 10, WriteLowWater: 64 << 10, MaxOutbound: 64 << 20}
		s := startServer(t, k, serverConfig(cert), ecfg, inner)
		raw := dialTCP(t, s.addr)
		raw.(*net.TCPConn).SetReadBuffer(16 << 10)
		c := tls.Client(raw, clientConfig(t))
		c.Write([]byte("go"))
		select {
		case <-high:
		case <-time.After(20 * time.Second):
			t.Fatalf("no high watermark after %d bytes", sent.Load())
		}
		time.Sleep(10 * time.Millisecond) // let the writer see stop
		total := sent.Load()
		if got := readFull(t, c, int(total)); !bytes.Equal(got[:16], chunk[:16]) {
			t.Fatal("damaged stream")
		}
		select {
		case <-low:
		case <-time.After(10 * time.Second):
			t.Fatal("no low watermark after the client drained")
		}
	})
}

// TestResumption: a second connection with the client's session cache
// resumes, and the inner handler sees DidResume.
func TestResumption(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(tls.VersionName(version), func(t *testing.T) {
				s := startServer(t, k, serverConfig(cert), engine.Config{}, newTH())
				ccfg := clientConfig(t)
				ccfg.MaxVersion = version
				ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				for i := range 2 {
					c := dialTLS(t, s.addr, ccfg)
					c.Write([]byte("x"))
					readFull(t, c, 1) // the TLS 1.3 ticket arrives with it
					if got := c.ConnectionState().DidResume; got != (i == 1) {
						t.Fatalf("connection %d: DidResume = %v", i, got)
					}
					c.Close()
				}
				if st := s.h.Stats(); st.Handshakes != 2 || st.Resumed != 1 {
					t.Errorf("Stats = %+v, want 2 handshakes, 1 resumed", st)
				}
			})
		}
	})
}

// TestShutdownDuringHandshake: Shutdown ends a handshake in progress; its
// goroutine exits and the failure is counted as Closed.
func TestShutdownDuringHandshake(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		s := startServer(t, k, serverConfig(cert), engine.Config{}, newTH())
		c := dialTCP(t, s.addr)
		c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // half a ClientHello
		eventually(t, "handshake started", func() bool { return s.h.Stats().Handshaking == 1 })
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		if err := s.e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, "goroutine gone", func() bool { return s.h.Stats().Handshaking == 0 })
		if st := s.h.Stats(); st.Failed.Closed != 1 {
			t.Errorf("Stats = %+v, want one Closed failure", st)
		}
		var ne net.Error
		if err := readErr(c); errors.As(err, &ne) && ne.Timeout() {
			t.Error("client still connected after Shutdown")
		}
	})
}

// corrupter is a net.Conn that damages the next record it writes once
// armed.
type corrupter struct {
	net.Conn
	armed atomic.Bool
}

func (c *corrupter) Write(p []byte) (int, error) {
	if c.armed.CompareAndSwap(true, false) {
		p = bytes.Clone(p)
		p[len(p)-1] ^= 0xff // in the AEAD tag
	}
	return c.Conn.Write(p)
}

// TestBadRecordAlert: a record that fails to decrypt closes the
// connection with crypto/tls's error, and the alert crypto/tls sealed
// while reading reaches the client first (Layered.Flush).
func TestBadRecordAlert(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(tls.VersionName(version), func(t *testing.T) {
				inner := newTH()
				s := startServer(t, k, serverConfig(cert), engine.Config{}, inner)
				w := &corrupter{Conn: dialTCP(t, s.addr)}
				ccfg := clientConfig(t)
				ccfg.MaxVersion = version
				c := tls.Client(w, ccfg)
				c.Write([]byte("fine"))
				readFull(t, c, 4)
				w.armed.Store(true)
				c.Write([]byte("damaged"))
				if err := readErr(c); err == nil || !strings.Contains(err.Error(), "bad record MAC") {
					t.Fatalf("client read %v, want the server's bad_record_mac alert", err)
				}
				if ev := inner.waitClose(t); ev.err == nil || !strings.Contains(ev.err.Error(), "bad record MAC") {
					t.Errorf("inner OnClose err = %v, want crypto/tls's", ev.err)
				}
			})
		}
	})
}

// TestClientSide: a client Handler on a dialing engine handshakes with a
// wharf server (and verifies it), and its inner handler talks through;
// a server it cannot verify is a BadCertificate failure of the client.
func TestClientSide(t *testing.T) {
	cert := thePKI(t).issue(t, certOpts{})
	forEachKind(t, func(t *testing.T, k engine.Kind) {
		s := startServer(t, k, serverConfig(cert), engine.Config{}, newTH())
		for _, trusted := range []bool{true, false} {
			inner := newTH()
			got := make(chan string, 1)
			inner.data = func(c engine.Conn) error {
				p, _ := c.Next(-1)
				got <- string(p)
				return nil
			}
			ccfg := clientConfig(t)
			if !trusted {
				ccfg.RootCAs = nil
			}
			ch, err := NewHandler(Config{TLS: ccfg, Client: true, Logger: s.h.log}, inner)
			if err != nil {
				t.Fatal(err)
			}
			e, err := engine.New(engine.Config{Kind: k, Loops: 1, Logger: s.h.log}, ch)
			if err != nil {
				t.Fatal(err)
			}
			e.Start()
			inner.open = func(c engine.Conn) {
				if c.Context() != "dialed" {
					t.Errorf("inner OnOpen: context %v, want the one Dial set", c.Context())
				}
				c.Write([]byte("ping"))
			}
			if _, err := e.Dial(t.Context(), "tcp", s.addr, engine.DialOptions{Context: "dialed"}); err != nil {
				t.Fatal(err)
			}
			if trusted {
				select {
				case p := <-got:
					if p != "ping" {
						t.Fatalf("client got %q, want its echo", p)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no echo through the client handler")
				}
				if st := ch.Stats(); st.Handshakes != 1 || st.TLS13 != 1 {
					t.Errorf("client Stats = %+v", st)
				}
			} else {
				eventually(t, "the client's refusal", func() bool { return ch.Stats().Failed.BadCertificate == 1 })
			}
			ctx, cancel := contextWithTimeout(5 * time.Second)
			e.Shutdown(ctx)
			cancel()
			eventually(t, "client handshakes gone", func() bool { return ch.Stats().Handshaking == 0 })
		}
	})
}
