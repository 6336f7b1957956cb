package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"wharf/engine"
	"wharf/packet"
)

// Codes of the reply batch tests.
const (
	codeSandwich = 30 // push "before", reply, broadcast "after", each with the request's body
	codeFlush    = 31 // Flush, wait for the test, reply
	codeBye      = 32 // reply, then close the connection
	codeBefore   = 40
	codeAfter    = 41
)

type batchApp struct {
	*app
	srv     *Server
	flushed chan struct{} // codeFlush has flushed and waits on release
}

func newBatchApp(t *testing.T, cfg Config) (*batchApp, string) {
	a, rt := newApp()
	ba := &batchApp{app: a, flushed: make(chan struct{}, 1)}
	rt.HandleFunc(codeSandwich, func(r *Request) {
		r.Conn.Send(codeBefore, r.Body)
		r.Reply(r.Body)
		me := r.Conn
		r.srv.Broadcast(codeAfter, r.Body, func(c *Conn) bool { return c == me })
	})
	rt.HandleFunc(codeFlush, func(r *Request) {
		r.Flush()
		ba.flushed <- struct{}{}
		<-a.release
		r.Reply([]byte("flushed"))
	})
	rt.HandleFunc(codeBye, func(r *Request) {
		r.Reply([]byte("bye"))
		r.Conn.Close()
	})
	s, addr := startServer(t, cfg, rt)
	ba.srv = s
	return ba, addr
}

// pipeline sends n requests in one write.
func pipeline(t *testing.T, c *client, code uint16, n int, body func(i int) []byte) {
	t.Helper()
	if err := writeRequests(c, code, n, body); err != nil {
		t.Fatal(err)
	}
}

func writeRequests(c *client, code uint16, n int, body func(i int) []byte) error {
	var all bytes.Buffer
	for i := range n {
		p, err := packet.Encode(code, body(i))
		if err != nil {
			return err
		}
		all.Write(p)
	}
	_, err := c.nc.Write(all.Bytes())
	return err
}

// TestTurnKeepsSendOrder: a handler's Send, Reply and Broadcast to its own
// connection arrive in the order it made them, request after request, when
// the replies of many pipelined requests go out in batches.
func TestTurnKeepsSendOrder(t *testing.T) {
	_, addr := newBatchApp(t, Config{FloodMode: FloodOff})
	c := dialClient(t, addr)
	const n = 100
	pipeline(t, c, codeSandwich, n, func(i int) []byte { return []byte(fmt.Sprint(i)) })
	for i := range n {
		for _, want := range []uint16{codeBefore, codeSandwich, codeAfter} {
			code, body := c.recv()
			if code != want || string(body) != fmt.Sprint(i) {
				t.Fatalf("request %d: got code %d %q, want code %d %q", i, code, body, want, fmt.Sprint(i))
			}
		}
	}
}

// TestTurnIsOneWrite: the replies of one turn reach the transport as one
// write, counted as their packets.
func TestTurnIsOneWrite(t *testing.T) {
	ba, addr := newBatchApp(t, Config{Engine: engine.Config{Loops: 1}})
	s := ba.srv
	c := dialClient(t, addr)
	c.send(codeBlock, nil)
	<-ba.blocked // the turn is open; the next requests wait for it
	pipeline(t, c, codeEcho, requestsPerTurn-1, func(i int) []byte { return []byte{byte(i)} })
	eventually(t, "requests queued", func() bool { return s.Stats().HandlerQueue == requestsPerTurn-1 })
	tasks, out := s.Engine().Stats().Tasks, s.Stats().PacketsOut
	close(ba.release)
	if _, body := c.recv(); string(body) != "late" {
		t.Fatalf("got %q, want the blocked reply first", body)
	}
	for i := range requestsPerTurn - 1 {
		if _, body := c.recv(); len(body) != 1 || body[0] != byte(i) {
			t.Fatalf("reply %d: %q", i, body)
		}
	}
	if got := s.Engine().Stats().Tasks - tasks; got != 1 {
		t.Errorf("the turn's %d replies took %d writes, want 1", requestsPerTurn, got)
	}
	if got := s.Stats().PacketsOut - out; got != requestsPerTurn {
		t.Errorf("PacketsOut grew by %d, want %d (packets, not writes)", got, requestsPerTurn)
	}
}

// TestFlushSendsTheTurnSoFar: a handler about to block flushes, and the
// replies before it do not wait for it.
func TestFlushSendsTheTurnSoFar(t *testing.T) {
	ba, addr := newBatchApp(t, Config{})
	c := dialClient(t, addr)
	c.send(codeBlock, nil)
	<-ba.blocked
	c.send(codeEcho, []byte("first"))
	c.send(codeFlush, nil)
	eventually(t, "queued", func() bool { return ba.srv.Stats().HandlerQueue == 2 })
	ba.release <- struct{}{} // codeBlock replies; then echo, then codeFlush flushes and waits
	<-ba.flushed
	for _, want := range []string{"late", "first"} {
		if _, body := c.recv(); string(body) != want {
			t.Fatalf("got %q, want %q before the flushing handler returns", body, want)
		}
	}
	close(ba.release)
	if _, body := c.recv(); string(body) != "flushed" {
		t.Fatalf("got %q", body)
	}
}

// TestCloseAfterReply: Close in a turn writes the batched reply first.
func TestCloseAfterReply(t *testing.T) {
	_, addr := newBatchApp(t, Config{})
	c := dialClient(t, addr)
	c.send(codeEcho, []byte("x"))
	c.send(codeBye, nil)
	for _, want := range []string{"x", "bye"} {
		if _, body := c.recv(); string(body) != want {
			t.Fatalf("got %q, want %q before the close", body, want)
		}
	}
	c.expectClosed()
}

// TestSendsFromOtherGoroutinesDuringTurns: another goroutine's pushes to a
// connection whose requests are being served keep their own order, and the
// replies theirs.
func TestSendsFromOtherGoroutinesDuringTurns(t *testing.T) {
	ba, addr := newBatchApp(t, Config{FloodMode: FloodOff, MaxPendingPerConn: 100000, MaxQueuedPerConn: 4096})
	c := dialClient(t, addr)
	c.send(codeLogin, nil)
	c.recv()
	var conn *Conn
	ba.srv.Broadcast(codePushed, nil, func(sc *Conn) bool { conn = sc; return false })
	const pushes, requests = 2000, 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var b [4]byte
		for i := range pushes {
			binary.BigEndian.PutUint32(b[:], uint32(i))
			if err := conn.Send(codePushed, b[:]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := writeRequests(c, codeEcho, requests, func(i int) []byte { return []byte(fmt.Sprint(i)) }); err != nil {
			t.Error(err)
		}
	}()
	nextPush, nextReply := 0, 0
	for nextPush < pushes || nextReply < requests {
		code, body := c.recv()
		switch code {
		case codePushed:
			if got := int(binary.BigEndian.Uint32(body)); got != nextPush {
				t.Fatalf("push %d arrived as number %d", got, nextPush)
			}
			nextPush++
		case codeEcho:
			if string(body) != fmt.Sprint(nextReply) {
				t.Fatalf("reply %q arrived as number %d", body, nextReply)
			}
			nextReply++
		default:
			t.Fatalf("code %d %q", code, body)
		}
	}
	wg.Wait()
}

// TestPipelinedRepliesAllocateNothing: the steady state of the request and
// reply path (decode, mailbox, worker, reply batch, write) allocates
// nothing per request. AllocsPerRun counts every goroutine's allocations:
// the loop's and the workers' as well as the client's.
func TestPipelinedRepliesAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rt := NewRouter()
	rt.HandleFunc(codeEcho, func(r *Request) { r.Reply(r.Body) })
	_, addr := startServer(t, Config{FloodMode: FloodOff, Engine: engine.Config{Loops: 1}}, rt)
	nc, err := dialTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p, _ := packet.Encode(codeEcho, make([]byte, 56))
	burst := bytes.Repeat(p, requestsPerTurn)
	reply := make([]byte, len(burst))
	roundTrip := func() {
		if _, err := nc.Write(burst); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(nc, reply); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 { // warm the pools
		roundTrip()
	}
	if n := testing.AllocsPerRun(200, roundTrip); n != 0 {
		t.Fatalf("%v allocations per %d pipelined requests, want 0", n, requestsPerTurn)
	}
}

// BenchmarkPipelinedReplies is the message server's reply path with 16
// requests in flight per connection, as bench/'s pipelined echo drives it:
// decode, hand-off to a worker, handler, reply batch, write. allocs/op is
// per request and must stay 0.
func BenchmarkPipelinedReplies(b *testing.B) {
	for _, size := range []int{64, 512} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			rt := NewRouter()
			rt.HandleFunc(codeEcho, func(r *Request) { r.Reply(r.Body) })
			_, addr := startServer(b, Config{FloodMode: FloodOff, IdleTimeout: -1, Engine: engine.Config{Loops: 1}}, rt)
			nc, err := dialTCP(addr)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			const depth = 16
			p, _ := packet.Encode(codeEcho, make([]byte, size-packet.HeaderSize))
			burst := bytes.Repeat(p, depth)
			reply := make([]byte, len(burst))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				if _, err := nc.Write(burst); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(nc, reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func dialTCP(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	return c, nil
}
