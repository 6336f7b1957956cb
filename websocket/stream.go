package websocket

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
	"unicode/utf8"

	"wharf/buffer"
	"wharf/engine"
)

// StreamHandler serves WebSocket connections to h, an engine.Handler
// written for byte streams (wharf's message server, say), as if each were
// an ordinary engine connection:
//
//   - inbound, the payloads of the client's binary messages are the
//     stream: h's OnData sees them through Peek/Next/Discard, a message at
//     a time, and what it leaves unconsumed waits for the next message;
//     a text message closes the connection with 1003;
//   - outbound, every Write, Writev, AsyncWrite and AsyncWritev is one
//     binary message, so a protocol that writes one packet per call sends
//     one packet per message;
//   - the engine's send-queue limits (MaxOutbound, MaxPendingPerConn,
//     MaxPendingTotal), deadlines and idle timeout apply to the underlying
//     connection unchanged; Close runs the close handshake with 1000;
//   - an error returned by h's OnData closes the connection with 1008
//     (policy violation, the error as the reason), and reaches h's OnClose
//     as it was returned; a connection that ends without a clean close
//     reaches it with the transport's reason (io.EOF,
//     engine.ErrIdleTimeout, engine.ErrOutboundFull, ...), a clean close
//     with nil, and a protocol error as its *CloseError.
//
// The engine.Conn h gets is valid for the connection's life; its loop
// methods follow engine.Conn's rules. AsyncSendFile is not supported.
func StreamHandler(h engine.Handler) Handler { return &streamHandler{h: h} }

type streamHandler struct{ h engine.Handler }

// ConnOf returns the WebSocket connection an upgraded engine connection
// carries, or nil (for a connection that is not, or no longer, one). Use it
// with the HTTP server's engine.Engine.Each to visit WebSocket connections,
// on their loops.
func ConnOf(ec engine.Conn) *Conn {
	if p, ok := ec.Context().(*connProto); ok {
		return (*Conn)(p)
	}
	return nil
}

// StreamOf returns the engine.Conn a StreamHandler gave its handler for an
// upgraded engine connection, or nil. With engine.Engine.Each it visits the
// stream connections (a message server's Transport.Each, say).
func StreamOf(ec engine.Conn) engine.Conn {
	if c := ConnOf(ec); c != nil {
		if sc, ok := c.Context().(*streamConn); ok {
			return sc
		}
	}
	return nil
}

// maxStreamBacklog bounds the unconsumed bytes a stream keeps for its
// handler, as engine.Config.MaxInbound does for a connection.
const maxStreamBacklog = 4 << 20

// streamConn is the engine.Conn view of a WebSocket connection. Fields are
// owned by the connection's loop.
type streamConn struct {
	ws   *Conn
	h    engine.Handler
	in   buffer.Buffer // unconsumed bytes of earlier messages
	view []byte        // the message being delivered, while h.OnData runs on it
	ctx  any
	err  error // h.OnData's error: the stream is failed and reports it in OnClose
}

var _ engine.Conn = (*streamConn)(nil)

func (s *streamHandler) OnOpen(ws *Conn) {
	sc := &streamConn{ws: ws, h: s.h}
	sc.in.Init(nil)
	ws.SetContext(sc)
	s.h.OnOpen(sc)
}

func (s *streamHandler) OnMessage(ws *Conn, typ MessageType, data []byte) {
	sc := ws.Context().(*streamConn)
	if sc.err != nil {
		return
	}
	if typ != MessageBinary {
		sc.fail(StatusUnsupportedData, errTextOnStream)
		return
	}
	if sc.in.Len() == 0 {
		sc.view = data
	} else {
		sc.in.Write(data)
	}
	err := s.h.OnData(sc)
	if len(sc.view) > 0 {
		sc.in.Write(sc.view)
	}
	sc.view = nil
	sc.in.Release()
	switch {
	case err != nil:
		sc.fail(StatusPolicyViolation, err)
	case sc.in.Len() > maxStreamBacklog:
		sc.fail(StatusPolicyViolation, engine.ErrInboundFull)
	}
}

var errTextOnStream = errors.New("websocket: text message on a binary stream")

// fail closes the stream for err, which OnClose will report: a kick, so
// the peer's close frame is not awaited.
func (sc *streamConn) fail(code StatusCode, err error) {
	sc.err = err
	sc.ws.abort(code, closeReason(err.Error()), err)
}

// closeReason cuts s to what a close frame carries, on a UTF-8 boundary.
func closeReason(s string) string {
	if len(s) <= maxControlPayload-2 {
		return s
	}
	s = s[:maxControlPayload-2]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func (s *streamHandler) OnClose(ws *Conn, err error) {
	sc, ok := ws.Context().(*streamConn)
	if !ok {
		return
	}
	var cause error
	ce, _ := err.(*CloseError)
	switch {
	case sc.err != nil:
		cause = sc.err
	case ce == nil:
		cause = err
	case ce.Code == StatusAbnormalClosure:
		cause = ce.Err
	case ce.Code == StatusNormalClosure || ce.Code == StatusGoingAway || ce.Code == StatusNoStatusRcvd:
		cause = nil
		if ce.Remote {
			cause = io.EOF // the peer hung up: as a TCP FIN reads on a byte stream
		}
	default:
		cause = ce
	}
	s.h.OnClose(sc, cause)
	sc.in.Reset()
}

// --- inbound (loop only) ---

func (sc *streamConn) InboundBuffered() int { return len(sc.view) + sc.in.Len() }

func (sc *streamConn) Peek(n int) ([]byte, error) {
	if sc.in.Len() > 0 {
		if n <= 0 {
			n = sc.in.Len()
		}
		return sc.in.Peek(n)
	}
	switch v := sc.view; {
	case n <= 0 || n == len(v):
		return v, nil
	case n > len(v):
		return v, io.ErrShortBuffer
	default:
		return v[:n], nil
	}
}

func (sc *streamConn) Next(n int) ([]byte, error) {
	if sc.in.Len() > 0 {
		if n <= 0 {
			n = sc.in.Len()
		}
		if n > sc.in.Len() {
			p, _ := sc.in.Next(sc.in.Len())
			return p, io.ErrShortBuffer
		}
		return sc.in.Next(n)
	}
	p, err := sc.Peek(n)
	sc.view = sc.view[len(p):]
	return p[:len(p):len(p)], err
}

func (sc *streamConn) Discard(n int) (int, error) {
	if sc.in.Len() > 0 {
		if n <= 0 {
			n = sc.in.Len()
		}
		return sc.in.Discard(n)
	}
	if n <= 0 || n > len(sc.view) {
		n = len(sc.view)
	}
	sc.view = sc.view[n:]
	return n, nil
}

// --- outbound ---

// noDone makes a write with a nil done refer to the caller's bytes, as
// engine.Conn.AsyncWrite allows (the caller never modifies them).
func noDone(engine.Conn, error) {}

func (sc *streamConn) Write(p []byte) (int, error) {
	if err := sc.ws.LoopWrite(MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (sc *streamConn) Writev(bufs [][]byte) (int, error) {
	if err := sc.ws.loopWritev(opBinary, bufs); err != nil {
		return 0, err
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n, nil
}

func (sc *streamConn) AsyncWrite(p []byte, done engine.WriteDone) error {
	if done == nil {
		done = noDone
	}
	return sc.ws.queue(opBinary, p, true, done, sc)
}

func (sc *streamConn) AsyncWritev(bufs [][]byte, done engine.WriteDone) error {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	joined := make([]byte, 0, n)
	for _, b := range bufs {
		joined = append(joined, b...)
	}
	return sc.ws.queue(opBinary, joined, false, done, sc)
}

var errSendFile = fmt.Errorf("websocket: AsyncSendFile on a WebSocket stream: %w", errors.ErrUnsupported)

func (sc *streamConn) AsyncSendFile(*os.File, int64, int64, engine.WriteDone) error {
	return errSendFile
}

func (sc *streamConn) OutboundBuffered() int { return sc.ws.ec.OutboundBuffered() }

// --- the rest passes through ---

func (sc *streamConn) SetIdleTimeout(d time.Duration) { sc.ws.ec.SetIdleTimeout(d) }
func (sc *streamConn) SetDeadline(t time.Time)        { sc.ws.ec.SetDeadline(t) }
func (sc *streamConn) SetContext(ctx any)             { sc.ctx = ctx }
func (sc *streamConn) Context() any                   { return sc.ctx }

func (sc *streamConn) Run(fn func(engine.Conn)) error {
	return sc.ws.ec.Run(func(engine.Conn) { fn(sc) })
}

func (sc *streamConn) AfterFunc(d time.Duration, fn func(engine.Conn)) error {
	return sc.ws.ec.AfterFunc(d, func(engine.Conn) { fn(sc) })
}

func (sc *streamConn) Close() error {
	sc.ws.Close(StatusNormalClosure, "")
	return nil
}

func (sc *streamConn) Pending() int         { return sc.ws.ec.Pending() }
func (sc *streamConn) ID() uint64           { return sc.ws.ec.ID() }
func (sc *streamConn) Loop() int            { return sc.ws.ec.Loop() }
func (sc *streamConn) LocalAddr() net.Addr  { return sc.ws.ec.LocalAddr() }
func (sc *streamConn) RemoteAddr() net.Addr { return sc.ws.ec.RemoteAddr() }
