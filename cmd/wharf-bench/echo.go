package main

import (
	"context"
	"flag"
	"fmt"

	"wharf/engine"
	"wharf/internal/loadgen"
)

// echoBench sends -s bytes and waits for the same number back, -depth
// messages in flight per connection. Any echo server works: the bytes are
// counted, not parsed, so message boundaries need not survive the trip.
type echoBench struct {
	*tcpBench
	depth  int
	msg    []byte
	resume func(engine.Conn) // (*echoBench).fillConn as a value, made once
}

// echoConn is one connection's state; owned by its event loop.
type echoConn struct {
	loadgen.Pace
	sent    loadgen.Ring // send times of the messages in flight
	partial int          // bytes of the oldest message in flight already echoed
}

func newEcho(o *loadgen.Options) loadgen.Bench {
	e := &echoBench{tcpBench: newTCPBench(o)}
	e.resume = e.fillConn
	return e
}

func (e *echoBench) Flags(fs *flag.FlagSet) {
	e.o.Flags(fs, "127.0.0.1:9000", true, 64)
	fs.IntVar(&e.depth, "depth", 1, "messages in flight per connection (1: ping-pong)")
	fs.IntVar(&e.o.Loops, "loops", 0, "event loops of the generator (0: one per CPU)")
}

func (e *echoBench) Setup() error {
	if e.depth < 1 {
		return fmt.Errorf("-depth must be at least 1, got %d", e.depth)
	}
	if e.o.Size < 1 {
		return fmt.Errorf("-s must be at least 1 for echo")
	}
	e.msg = make([]byte, e.o.Size)
	for i := range e.msg {
		e.msg[i] = 'a' + byte(i%26)
	}
	return nil
}

func (e *echoBench) Start(ctx context.Context) error {
	if err := e.startEngine(e); err != nil {
		return err
	}
	e.dialAll(ctx, func(i int) any {
		return &echoConn{Pace: e.StartPace(i), sent: loadgen.NewRing(e.depth)}
	})
	return nil
}

func (e *echoBench) OnOpen(c engine.Conn) {
	e.Opened()
	e.fill(c, c.Context().(*echoConn))
}

func (e *echoBench) OnData(c engine.Conn) error {
	st := c.Context().(*echoConn)
	n, _ := c.Discard(-1)
	st.partial += n
	now := e.Now()
	for st.partial >= len(e.msg) && st.sent.Len() > 0 {
		st.partial -= len(e.msg)
		e.Complete(c.Loop(), st.sent.Pop(), now)
	}
	if st.sent.Len() == 0 && st.partial > 0 {
		return &loadgen.ProtocolError{Msg: fmt.Sprintf("echo server sent %d bytes more than it was sent", st.partial)}
	}
	e.fill(c, st)
	return nil
}

func (e *echoBench) OnClose(c engine.Conn, err error) { e.onClose(err, false) }

func (e *echoBench) fillConn(c engine.Conn) {
	st := c.Context().(*echoConn)
	st.Armed = false
	e.fill(c, st)
}

// fill sends messages until -depth are in flight, or pacing or the budget
// says stop. Runs on c's loop.
func (e *echoBench) fill(c engine.Conn, st *echoConn) {
	for st.sent.Len() < e.depth {
		now := e.Now()
		if !e.paceOK(c, &st.Pace, now, e.resume) || !e.MayIssue() {
			return
		}
		if _, err := c.Write(e.msg); err != nil {
			return
		}
		st.sent.Push(now)
	}
}

func (e *echoBench) Finish(res *loadgen.Result) {
	e.drainAndClose(func(ctx any) int { return ctx.(*echoConn).sent.Len() })
	e.FillResult(res)
	res.BytesSent = res.Requests * int64(len(e.msg))
	res.BytesReceived = res.BytesSent
}
