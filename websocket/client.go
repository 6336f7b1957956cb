package websocket

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DialOptions configure Dial. The zero value (or nil) dials with defaults.
type DialOptions struct {
	// Header holds extra request headers, Origin for example.
	Header http.Header
	// Subprotocols are offered in Sec-WebSocket-Protocol, most preferred
	// first.
	Subprotocols []string
	// Compression offers permessage-deflate. The client never keeps its
	// compression context (it offers client_no_context_takeover); it keeps
	// the server's window if the server keeps its own.
	Compression bool
	// CompressionLevel is the flate level of outgoing messages; default
	// flate.BestSpeed.
	CompressionLevel int
	// CompressionThreshold is the smallest message compressed; default 128.
	CompressionThreshold int
	// MaxMessageSize bounds received messages (decompressed); default
	// 1 MiB. Larger ones fail the connection with 1009.
	MaxMessageSize int64
	// CloseTimeout bounds the wait for the server's close frame in Close;
	// default 5s.
	CloseTimeout time.Duration
	// NetDial opens the TCP connection; default a net.Dialer.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig is used for wss:// URLs; default one with the URL's host as
	// ServerName. One without a ServerName is used with the URL's host
	// (a copy of it), so setting only RootCAs verifies that host.
	TLSConfig *tls.Config
}

// ClientConn is the client side of a WebSocket connection, driven by the
// goroutines that call it (no event loop): ReadMessage blocks for the next
// message, and writes block until the frame is handed to the socket.
//
// One goroutine at a time may read (ReadMessage, and Read on NetConn);
// writes (WriteMessage, WriteText, WriteBinary, Ping, Close) are safe from
// any goroutine and are written whole, in the order they take the write
// lock. Client frames are masked with a fresh random key each
// (RFC 6455 §5.3).
type ClientConn struct {
	nc       net.Conn
	protocol string
	lim      limits
	closeTO  time.Duration

	rmu      sync.Mutex    // held by the reading goroutine
	br       *bufio.Reader // owned by the reader
	r        msgReader     // owned by the reader
	frame    []byte        // the current frame's payload (owned by the reader)
	readErr  error         // sticky: the reason reading stopped
	gotClose chan struct{} // closed when the server's close frame arrived

	wmu       sync.Mutex // guards the fields below
	wbuf      []byte     // the frame being written
	closeSent bool
	compress  bool // may compress (immutable after Dial)
	level     int
	threshold int
}

// Dial opens a WebSocket connection to a ws:// or wss:// URL. ctx bounds
// the TCP connect and the opening handshake.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*ClientConn, error) {
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("websocket: dial %q: %w", rawURL, err)
	}
	host := u.Host
	switch u.Scheme {
	case "ws":
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	case "wss":
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
	default:
		return nil, fmt.Errorf("websocket: dial %q: scheme must be ws or wss", rawURL)
	}
	if o.NetDial == nil {
		var d net.Dialer
		o.NetDial = d.DialContext
	}
	nc, err := o.NetDial(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("websocket: dial %s: %w", host, err)
	}
	if u.Scheme == "wss" {
		tc := o.TLSConfig
		switch {
		case tc == nil:
			tc = &tls.Config{ServerName: u.Hostname()}
		case tc.ServerName == "": // as crypto/tls.Dial: verify the URL's host
			tc = tc.Clone()
			tc.ServerName = u.Hostname()
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("websocket: dial %s: tls: %w", host, err)
		}
		nc = tlsConn
	}
	c, err := clientHandshake(ctx, nc, u, &o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func clientHandshake(ctx context.Context, nc net.Conn, u *url.URL, o *DialOptions) (*ClientConn, error) {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var b strings.Builder
	target := u.RequestURI()
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", target, u.Host, key)
	if len(o.Subprotocols) > 0 {
		fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", strings.Join(o.Subprotocols, ", "))
	}
	if o.Compression {
		b.WriteString("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n")
	}
	for k, vs := range o.Header {
		for _, v := range vs {
			if strings.ContainsAny(k+v, "\r\n") {
				return nil, fmt.Errorf("websocket: dial: header %q has a line break", k)
			}
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(nc, b.String()); err != nil {
		return nil, fmt.Errorf("websocket: dial: send handshake: %w", err)
	}
	br := bufio.NewReaderSize(nc, 16<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, fmt.Errorf("websocket: dial: read handshake response: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadHandshake}, args...)...)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, bad("status %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	switch {
	case !hasToken(listOf(resp.Header["Upgrade"]), "websocket"):
		return nil, bad("missing Upgrade: websocket")
	case !hasToken(listOf(resp.Header["Connection"]), "upgrade"):
		return nil, bad("missing Connection: Upgrade")
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptString(key):
		return nil, bad("wrong Sec-WebSocket-Accept")
	}
	c := &ClientConn{nc: nc, br: br, gotClose: make(chan struct{}), level: o.CompressionLevel, threshold: o.CompressionThreshold}
	c.protocol = resp.Header.Get("Sec-WebSocket-Protocol")
	if c.protocol != "" {
		offered := false
		for _, p := range o.Subprotocols {
			offered = offered || p == c.protocol
		}
		if !offered {
			return nil, bad("subprotocol %q was not offered", c.protocol)
		}
	}
	var params deflateParams
	var extErr error
	deflate := false
	parseExtensions(listOf(resp.Header["Sec-Websocket-Extensions"]), func(name string, ps []extParam) {
		if name != "permessage-deflate" || !o.Compression || deflate {
			extErr = bad("extension %q was not offered", name)
			return
		}
		var ok bool
		if params, ok = parseDeflateResponse(ps); !ok {
			extErr = bad("bad permessage-deflate parameters")
		}
		deflate = true
	})
	if extErr != nil {
		return nil, extErr
	}
	c.lim.maxMsg = o.MaxMessageSize
	if c.lim.maxMsg <= 0 {
		c.lim.maxMsg = DefaultMaxMessageSize
	}
	c.lim.maxFrame = c.lim.maxMsg
	c.closeTO = o.CloseTimeout
	if c.closeTO <= 0 {
		c.closeTO = DefaultCloseTimeout
	}
	if c.level == 0 {
		c.level = 1
	}
	if c.level < -2 || c.level > 9 {
		return nil, fmt.Errorf("websocket: dial: CompressionLevel %d out of [-2, 9]", c.level)
	}
	if c.threshold <= 0 {
		c.threshold = DefaultCompressionThreshold
	}
	c.r = msgReader{server: false, deflate: deflate, lim: &c.lim}
	if deflate {
		c.compress = params.compressesOut(false)
		if !params.serverNoCtx {
			w := make([]byte, 0, windowSize)
			c.r.window = &w
		}
	}
	return c, nil
}

// Subprotocol is the subprotocol the server chose, "" if none.
func (c *ClientConn) Subprotocol() string { return c.protocol }

// Compressed reports whether permessage-deflate was negotiated.
func (c *ClientConn) Compressed() bool { return c.r.deflate }

// LocalAddr and RemoteAddr are the TCP connection's.
func (c *ClientConn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *ClientConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadDeadline bounds ReadMessage (as net.Conn's).
func (c *ClientConn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline bounds writes (as net.Conn's).
func (c *ClientConn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// ReadMessage returns the next text or binary message. data is valid until
// the next ReadMessage. Pings are answered with pongs and pongs are
// skipped on the way. When the server closes, ReadMessage answers its close
// frame and returns a *CloseError (Remote set), and the same error from
// then on; a protocol error by the server fails the connection (a close
// frame with the code, then the TCP close) and returns a *CloseError with
// Remote false.
func (c *ClientConn) ReadMessage() (MessageType, []byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.readMessage()
}

// readMessage is ReadMessage with c.rmu held.
func (c *ClientConn) readMessage() (MessageType, []byte, error) {
	if c.readErr != nil {
		return 0, nil, c.readErr
	}
	c.r.release()
	for {
		ev, err := c.readFrame()
		if err != nil {
			var pe *protoError
			if asProto(err, &pe) {
				c.fail(pe)
				c.readErr = &CloseError{Code: pe.code, Reason: pe.reason, Err: pe}
			} else {
				c.readErr = &CloseError{Code: StatusAbnormalClosure, Err: err}
				c.nc.Close()
			}
			c.r.discard()
			return 0, nil, c.readErr
		}
		switch ev.op {
		case opText, opBinary:
			return MessageType(ev.op), ev.data, nil
		case opPing:
			c.writeFrame(opPong, ev.data)
		case opClose:
			c.readErr = &CloseError{Code: ev.code, Reason: string(ev.data), Remote: true}
			close(c.gotClose)
			code := ev.code
			if code == StatusNoStatusRcvd {
				code = 0
			}
			c.sendClose(code, "")
			c.nc.Close() // the server closes first; this only frees our end
			return 0, nil, c.readErr
		}
	}
}

func asProto(err error, pe **protoError) bool {
	p, ok := err.(*protoError)
	*pe = p
	return ok
}

// readFrame reads frames until one completes something.
func (c *ClientConn) readFrame() (event, error) {
	for {
		b, err := c.br.Peek(2)
		if err != nil {
			return event{}, err
		}
		hl := 2
		switch b[1] & 0x7f {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if b[1]&bitMask != 0 {
			hl += 4
		}
		if b, err = c.br.Peek(hl); err != nil {
			return event{}, err
		}
		h, res := parseFrameHeader(b)
		if res == parseLong {
			return event{}, errLength
		}
		if pe := c.r.check(&h); pe != nil {
			return event{}, pe
		}
		c.br.Discard(hl)
		if int64(cap(c.frame)) < h.length || cap(c.frame) > maxPooledFrame {
			c.frame = make([]byte, max(h.length, 512))
		}
		p := c.frame[:h.length]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return event{}, err
		}
		ev, pe := c.r.frame(&h, p)
		if pe != nil {
			return event{}, pe
		}
		if ev.op != 0 && ev.op != opPong {
			return ev, nil
		}
	}
}

// fail sends a close frame for a protocol error and closes the connection.
func (c *ClientConn) fail(pe *protoError) {
	c.sendClose(pe.code, pe.reason)
	c.nc.Close()
}

// WriteMessage writes a text or binary message; any goroutine. It returns
// when the frame was handed to the socket.
func (c *ClientConn) WriteMessage(typ MessageType, p []byte) error {
	op, err := dataOpcode(typ)
	if err != nil {
		return err
	}
	return c.writeFrame(op, p)
}

// WriteText writes a text message; s must be valid UTF-8.
func (c *ClientConn) WriteText(s string) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	return c.writeFrame(opText, stringBytes(s))
}

// WriteBinary writes a binary message.
func (c *ClientConn) WriteBinary(p []byte) error { return c.writeFrame(opBinary, p) }

// Ping writes a ping (at most 125 bytes of payload).
func (c *ClientConn) Ping(p []byte) error {
	if len(p) > maxControlPayload {
		return ErrControlTooLong
	}
	return c.writeFrame(opPing, p)
}

// writeFrame masks and writes one frame.
func (c *ClientConn) writeFrame(op opcode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return ErrClosed
	}
	return c.writeLocked(true, op, p)
}

// writeLocked builds and writes a frame; c.wmu must be held.
func (c *ClientConn) writeLocked(fin bool, op opcode, p []byte) error {
	key := mrand.Uint32()
	if cap(c.wbuf) < maxHeaderLen {
		c.wbuf = make([]byte, 0, 512)
	}
	if c.compress && !op.isControl() && len(p) >= c.threshold {
		d := getDeflater(c.level)
		body := d.compress(c.wbuf[:maxHeaderLen], p, true)
		putDeflater(c.level, d)
		c.wbuf = body
		n := len(body) - maxHeaderLen
		h := frameHeaderLen(n, true)
		appendFrameHeader(body[maxHeaderLen-h:maxHeaderLen-h], fin, true, op, n, true, key)
		maskBytes(key, 0, body[maxHeaderLen:])
		_, err := c.nc.Write(body[maxHeaderLen-h:])
		return err
	}
	b := appendFrameHeader(c.wbuf[:0], fin, false, op, len(p), true, key)
	hl := len(b)
	b = append(b, p...)
	maskBytes(key, 0, b[hl:])
	c.wbuf = b
	if cap(c.wbuf) > maxPooledFrame {
		defer func() { c.wbuf = nil }()
	}
	_, err := c.nc.Write(b)
	return err
}

// sendClose writes the close frame once.
func (c *ClientConn) sendClose(code StatusCode, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return ErrClosed
	}
	var payload []byte
	if code != 0 {
		payload = append([]byte{byte(code >> 8), byte(code)}, reason...)
	}
	err := c.writeLocked(true, opClose, payload)
	c.closeSent = true
	return err
}

// Close starts the close handshake: it sends a close frame with code and
// reason, waits up to DialOptions.CloseTimeout for the server's answer
// (reading and dropping messages meanwhile if no other goroutine is
// reading), and closes the TCP connection.
func (c *ClientConn) Close(code StatusCode, reason string) error {
	if !code.Valid() {
		return ErrInvalidCloseCode
	}
	if len(reason) > maxControlPayload-2 {
		return ErrControlTooLong
	}
	if err := c.sendClose(code, reason); err != nil {
		c.nc.Close()
		if err == ErrClosed {
			return nil
		}
		return err
	}
	if c.rmu.TryLock() {
		c.nc.SetReadDeadline(time.Now().Add(c.closeTO))
		for {
			if _, _, err := c.readMessage(); err != nil {
				break
			}
		}
		c.rmu.Unlock()
	} else {
		select {
		case <-c.gotClose:
		case <-time.After(c.closeTO):
		}
	}
	if err := c.nc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// CloseNow closes the TCP connection without a close handshake.
func (c *ClientConn) CloseNow() error { return c.nc.Close() }

// NetConn returns a net.Conn over the connection's binary messages: Read
// returns the bytes of consecutive binary messages as one stream (a text
// message fails it with 1003), and each Write sends one binary message.
// Close runs the close handshake with 1000. Deadlines are the TCP
// connection's. For protocols that frame their own messages, one per
// binary message, on a byte-stream API (wharf's packet client, say).
func (c *ClientConn) NetConn() net.Conn { return &clientNetConn{c: c} }

type clientNetConn struct {
	c    *ClientConn
	rest []byte // unread part of the last message (owned by the reader)
}

func (n *clientNetConn) Read(p []byte) (int, error) {
	for len(n.rest) == 0 {
		typ, data, err := n.c.ReadMessage()
		if err != nil {
			if ce, ok := err.(*CloseError); ok && ce.Remote && (ce.Code == StatusNormalClosure || ce.Code == StatusGoingAway) {
				return 0, io.EOF
			}
			return 0, err
		}
		if typ != MessageBinary {
			n.c.Close(StatusUnsupportedData, "text message on a binary stream")
			return 0, fmt.Errorf("websocket: text message on a binary stream")
		}
		n.rest = data
	}
	k := copy(p, n.rest)
	n.rest = n.rest[k:]
	return k, nil
}

func (n *clientNetConn) Write(p []byte) (int, error) {
	if err := n.c.WriteBinary(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n *clientNetConn) Close() error                       { return n.c.Close(StatusNormalClosure, "") }
func (n *clientNetConn) LocalAddr() net.Addr                { return n.c.nc.LocalAddr() }
func (n *clientNetConn) RemoteAddr() net.Addr               { return n.c.nc.RemoteAddr() }
func (n *clientNetConn) SetDeadline(t time.Time) error      { return n.c.nc.SetDeadline(t) }
func (n *clientNetConn) SetReadDeadline(t time.Time) error  { return n.c.nc.SetReadDeadline(t) }
func (n *clientNetConn) SetWriteDeadline(t time.Time) error { return n.c.nc.SetWriteDeadline(t) }

// listOf puts header values in a strList.
func listOf(vs []string) *strList {
	l := &strList{}
	for _, v := range vs {
		l.add(v)
	}
	return l
}

func acceptString(key string) string {
	a := acceptKey(key)
	return string(a[:])
}

// StreamDialer returns a dial function for byte-stream clients: it dials
// the ws:// or wss:// URL it is given (network is ignored) with opts and
// returns the connection as a net.Conn whose stream is the binary messages
// (ClientConn.NetConn). It fits client.Config.Dialer, so the packet client
// speaks the packet protocol over WebSocket:
//
//	client.Dial(ctx, "ws://127.0.0.1:8080/ws", client.Config{
//		Dialer: websocket.StreamDialer(websocket.DialOptions{Subprotocols: []string{packet.WebSocketSubprotocol}}),
//	})
func StreamDialer(opts DialOptions) func(ctx context.Context, network, url string) (net.Conn, error) {
	return func(ctx context.Context, _, url string) (net.Conn, error) {
		c, err := Dial(ctx, url, &opts)
		if err != nil {
			return nil, err
		}
		return c.NetConn(), nil
	}
}
