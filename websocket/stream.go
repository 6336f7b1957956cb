package websocket

import (
	"encoding/binary"
	"errors"
	"io"
	"unicode/utf8"

	"wharf/buffer"
	"wharf/engine"
)

// NewStreamServer returns a Server that serves WebSocket connections to h,
// an engine.Handler written for byte streams (wharf's message server,
// say), as engine.Layered connections with a WebSocket codec:
//
//   - inbound, the payloads of the client's binary messages are the
//     stream h's OnData reads (Peek, Next, Discard); a text message closes
//     the connection with 1003;
//   - outbound, every Write, Writev element, AsyncWrite, AsyncWritev and
//     AsyncWriteBatch of h is one binary message, so a protocol that
//     writes whole packets sends whole packets in each message (wharf's
//     message server batches the replies of one turn into one);
//   - the engine's send-queue limits (MaxOutbound, MaxPendingPerConn,
//     MaxPendingTotal), deadlines and idle timeout are the underlying
//     connection's, unchanged; Close sends a close frame (1000) and
//     closes;
//   - an error returned by h's OnData closes the connection with 1008
//     (policy violation, the error as the reason) and reaches h's OnClose
//     as it was returned. A connection that ends without a close frame
//     reaches it with the transport's reason (io.EOF for a TCP FIN,
//     engine.ErrIdleTimeout, engine.ErrOutboundFull, ...); a close frame
//     from the client with io.EOF if its code was 1000, 1001 or none, as
//     its *CloseError otherwise; a protocol error as its *CloseError.
//
// cfg is a Server's (subprotocols, origins, limits, compression); the
// Server's Stats count the stream connections' messages.
func NewStreamServer(cfg Config, h engine.Handler) (*Server, error) {
	if h == nil {
		return nil, errNilHandler
	}
	s, err := NewServer(cfg, HandlerFuncs{})
	if err != nil {
		return nil, err
	}
	s.stream = h
	return s, nil
}

// maxStreamBacklog bounds the decoded bytes a stream keeps for a handler
// that does not consume them, as engine.Config.MaxInbound does for a
// connection.
const maxStreamBacklog = 4 << 20

// errTextOnStream closes a stream that received a text message.
var errTextOnStream = errors.New("websocket: text message on a binary stream")

// ConnOf returns the WebSocket connection an upgraded engine connection
// carries, or nil (for a connection that is not, or no longer, one). Use it
// with the HTTP server's engine.Engine.Each to visit WebSocket connections,
// on their loops. On a stream Server's connection, write through StreamOf's
// Conn, not this one: only the layer keeps messages in order with its
// close frame.
func ConnOf(ec engine.Conn) *Conn {
	if p, ok := ec.Context().(*connProto); ok {
		return (*Conn)(p)
	}
	return nil
}

// StreamOf returns the engine.Conn (an *engine.Layered) a stream Server
// gave its handler for an upgraded engine connection, or nil. With
// engine.Engine.Each it visits the stream connections (a message server's
// Transport.Each, say).
func StreamOf(ec engine.Conn) engine.Conn {
	if c := ConnOf(ec); c != nil && c.st != nil {
		return c.st.layer
	}
	return nil
}

// streamState is what a stream connection has beyond a Conn. Owned by the
// connection's loop.
type streamState struct {
	layer *engine.Layered
	sink  *buffer.Buffer // the layer's decoded bytes, while Decode runs
	err   error          // the handler's error that kicked the connection
}

// streamCodec is the engine.Codec of a stream connection: the Conn's frame
// reader and writer, with binary payloads as the decoded stream.
type streamCodec Conn

var _ engine.Codec = (*streamCodec)(nil)

// openStream layers the connection for the stream handler (on the loop, in
// OnUpgrade).
func (c *Conn) openStream(ec engine.Conn) {
	c.st = &streamState{layer: engine.NewLayered(ec, (*streamCodec)(c), c.srv.stream)}
	ec.SetContext((*connProto)(c)) // NewLayered took it: httpd finds the Protocol there
	c.streamInput(c.st.layer.Open())
}

// streamInput acts on what Layered.Open or Input returned: the handler's
// error kicks the connection.
func (c *Conn) streamInput(err error) {
	switch {
	case err != nil:
		c.kick(StatusPolicyViolation, err)
	case c.st.layer.InboundBuffered() > maxStreamBacklog:
		c.kick(StatusPolicyViolation, engine.ErrInboundFull)
	}
}

// kick closes a stream connection for err, which the handler's OnClose
// gets: a close frame with code and the error as the reason, then the TCP
// close, without waiting for the client's answer.
func (c *Conn) kick(code StatusCode, err error) {
	if c.has(flagFailed) {
		return
	}
	c.set(flagFailed)
	c.st.err = err
	c.r.discard()
	c.sendClose(code, closeReason(err.Error()), err)
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

// Decode parses the raw connection's frames; binary payloads go to in.
func (sc *streamCodec) Decode(raw engine.Conn, in *buffer.Buffer) error {
	c := (*Conn)(sc)
	c.st.sink = in
	c.readFrames(raw)
	c.st.sink = nil
	return nil // failures close the connection themselves, with a close frame
}

// Encode frames p as one binary message. Layered serialises it with
// Goodbye, so nothing follows a close frame.
func (sc *streamCodec) Encode(w *engine.Wire, p [][]byte) error {
	c := (*Conn)(sc)
	if len(p) == 0 {
		return nil // Layered.Flush: nothing is made outside Encode here
	}
	if c.has(flagCloseSent) {
		return ErrClosed
	}
	n := 0
	for _, b := range p {
		n += len(b)
	}
	if c.compress && n >= c.srv.cfg.CompressionThreshold {
		joined, out := getBuf(), getBuf()
		for _, b := range p {
			*joined = append(*joined, b...)
		}
		c.wmu.Lock()
		var frame []byte
		*out, frame = c.compressFrame(*out, opBinary, *joined)
		c.wmu.Unlock()
		w.Copy(frame)
		putBuf(joined)
		putBuf(out)
	} else {
		var hdr [maxHeaderLen]byte
		w.Copy(appendFrameHeader(hdr[:0], true, false, opBinary, n, false, 0))
		for _, b := range p {
			w.Append(b)
		}
	}
	c.srv.ctr.countOut(n)
	return nil
}

// Goodbye appends the close frame: the one sendClose chose, or 1000.
func (sc *streamCodec) Goodbye(w *engine.Wire) error {
	c := (*Conn)(sc)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.has(flagCloseSent) {
		return nil
	}
	c.set(flagCloseSent)
	if c.local == nil {
		c.local = &CloseError{Code: StatusNormalClosure}
	}
	var frame [maxHeaderLen + maxControlPayload]byte
	w.Copy(appendCloseFrame(frame[:0], c.local))
	return nil
}

// appendCloseFrame appends the close frame for ce (no payload for
// StatusNoStatusRcvd).
func appendCloseFrame(b []byte, ce *CloseError) []byte {
	if ce.Code == StatusNoStatusRcvd {
		return appendFrameHeader(b, true, false, opClose, 0, false, 0)
	}
	b = appendFrameHeader(b, true, false, opClose, 2+len(ce.Reason), false, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(ce.Code))
	return append(b, ce.Reason...)
}

// streamClosed tells the stream handler how the connection ended (see
// NewStreamServer).
func (c *Conn) streamClosed(ce *CloseError) {
	var cause error
	switch {
	case c.st.err != nil:
		cause = c.st.err
	case ce.Code == StatusAbnormalClosure:
		cause = ce.Err
	case ce.Remote && (ce.Code == StatusNormalClosure || ce.Code == StatusGoingAway || ce.Code == StatusNoStatusRcvd):
		cause = io.EOF // the client hung up: as a TCP FIN reads on a byte stream
	case c.has(flagFailed):
		cause = ce // a protocol error
	case !ce.Remote:
		cause = nil // this side closed cleanly (Close, shutdown)
	default:
		cause = ce
	}
	c.st.layer.Closed(cause)
}
