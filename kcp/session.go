package kcp

import (
	"errors"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	kcpgo "github.com/xtaci/kcp-go/v5"

	"wharf/engine"
)

const (
	// silentPeer ends a graceful close early when the peer has sent nothing
	// for this long (or 8 RTOs, if longer): it is gone, and KCP has no close
	// handshake that would tell. At 15% loss, fast mode retransmits about 7
	// times in 2 s, so a live peer is almost never mistaken for a dead one.
	silentPeer = 2 * time.Second
	// blindLinger is how long (at least; 3 RTOs if longer) a graceful close
	// waits after the backlog was handed to KCP when the gate cannot see
	// acknowledgements (encryption on).
	blindLinger = 100 * time.Millisecond
)

// session is what the transport keeps of an accepted kcp-go session; the
// engine serves the session itself (engine.Engine.ServeConn) and calls back
// through the hooks below.
type session struct {
	t     *Transport
	sess  *kcpgo.UDPSession
	key   netip.AddrPort
	entry *entry // the gate's table entry; set by attach before serving

	// why is the error OnClose gets when the transport closes the kcp-go
	// session itself (the idle reaper, a conversation reset); set before
	// the session is closed.
	why atomic.Pointer[error]
}

// options are the engine hooks that make a kcp-go session an engine
// connection.
func (s *session) options() engine.ConnOptions {
	return engine.ConnOptions{
		MaxWrite:    s.t.maxWrite,
		AsyncFlush:  true, // kcp-go blocks a Write while the send window is full
		Linger:      s.linger,
		ReadError:   s.readError,
		BeforeClose: func() { s.t.gate.detach(s) },
	}
}

// abort closes the kcp-go session from outside the engine; OnClose gets err.
func (s *session) abort(err error) {
	s.why.CompareAndSwap(nil, &err)
	s.sess.Close()
}

// readError names why a Read failed. kcp-go never reports io.EOF (KCP has
// no close handshake); io.ErrClosedPipe means the session was closed under
// the engine: by abort, or by kcp-go resetting the conversation.
func (s *session) readError(err error) error {
	if why := s.why.Load(); why != nil {
		return *why
	}
	if errors.Is(err, io.ErrClosedPipe) {
		err = ErrSessionReplaced
	}
	return &engine.OpError{Op: "read", Err: err}
}

// linger is the KCP part of a graceful close, once the backlog is handed to
// kcp-go: keep the session alive (KCP retransmits only while it is) until
// the peer has acknowledged everything, the peer has gone silent, the close
// times out, or a hard close overrides this one.
func (s *session) linger(written uint64, d engine.Deadline) {
	handed := time.Now()
	sleep := time.Millisecond
	for !d.Expired() && s.why.Load() == nil {
		now := time.Now()
		rto := time.Duration(s.sess.GetRTO()) * time.Millisecond
		if s.t.gate.observable() {
			e := s.entry
			if e.sent.Load() == written && !seqAfter(e.sndNxt.Load(), e.una.Load()) {
				return // everything acknowledged
			}
			silence := max(silentPeer, 8*rto)
			if now.UnixNano()-e.last.Load() > int64(silence) && now.Sub(handed) > silence {
				return // the peer is gone
			}
		} else if now.Sub(handed) >= max(blindLinger, 3*rto) {
			return
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, 20*time.Millisecond)
	}
}
