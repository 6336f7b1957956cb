package httpd

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wharf/httpd/internal/h1"
)

// response is the http.ResponseWriter (with Flusher and Hijacker) of the
// adapter. It belongs to the handler goroutine; sent runs on the loop, so
// the flow-control fields are guarded by mu.
type response struct {
	j *job
	c *hconn
	s *Server

	hdr          http.Header
	spare        http.Header // an emptied header map of an earlier response, for Header to reuse
	status       int
	wroteHeader  bool  // WriteHeader (or a first Write) was called
	headerSent   bool  // the header is queued for the socket
	chunked      bool  // the body is sent with chunked transfer coding
	cl           int64 // Content-Length set by the handler, -1 if none
	written      int64 // body bytes the handler wrote
	buf          []byte
	closeAfter   bool
	hijacked     bool
	aborted      bool
	done         bool // the handler returned
	resumeQueued bool // the last write resumes the connection (outBuf.resume)
	ownWDL       bool // the handler set its own write deadline (deadline.go)
	timerFn      func(engineConn)
	// out0 is the buffer of the response's first write (for most
	// responses their only one: header and body), kept with the response
	// rather than taken from outPool; out0used says it was handed out.
	out0     outBuf
	out0used bool

	// Guarded by the connection's responseOrder.mu:
	held      []*outBuf // bytes waiting for the response's turn
	heldBytes int
	ended     bool // the handler returned and everything was emitted

	mu         sync.Mutex // guards the fields below
	cond       sync.Cond
	pending    int       // bytes handed to the socket path and not yet written
	werr       error     // the connection failed
	wdl        time.Time // the handler's write deadline (SetWriteDeadline), zero for none
	timerArmed bool      // a deadline timer is pending (it holds a reference)

	// refs counts the holders of the response: its handler goroutine, its
	// slot in the connection's responseOrder, and each AsyncWrite whose
	// done callback has not finished. Whoever drops the last one returns
	// the response to the pool (unref), so it is recycled exactly once and
	// only when nothing refers to it any more.
	refs atomic.Int32
}

var _ http.Flusher = (*response)(nil)
var _ http.Hijacker = (*response)(nil)

var respPool sync.Pool

func init() { // New refers back to respPool through done: set it after init of the var
	respPool.New = func() any {
		w := new(response)
		w.out0.own = true
		w.out0.doneFn = w.out0.done // bound once: w is recycled whole
		return w
	}
}

// getOut returns a buffer for one write of w: out0 the first time.
func (w *response) getOut() *outBuf {
	if !w.out0used {
		w.out0used = true
		return &w.out0
	}
	return outPool.Get().(*outBuf)
}

func newResponse(j *job) *response {
	w := respPool.Get().(*response)
	w.j, w.c, w.s = j, j.c, j.c.s
	w.status, w.cl = 200, -1
	w.cond.L = &w.mu
	w.closeAfter = j.close
	w.refs.Store(2) // the handler and the order slot
	w.c.ord.register(w)
	return w
}

// endBody settles the request body when the handler returns: what it did
// not read is discarded by the loop, or the connection closes after the
// response (a body too long to discard, a 100 Continue never sent); a
// body the server refused (400, 413) replaces the response with that
// error if it has not started.
func (w *response) endBody(p *bodyPipe) {
	if p.abandon() {
		w.closeAfter = true
	}
	st := p.failure()
	if st == 0 {
		return
	}
	w.closeAfter = true
	if w.headerSent {
		return
	}
	w.reset()
	w.status, w.wroteHeader = st, true
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.buf = append(w.buf[:0], h1.StatusText(st)...)
	w.buf = append(w.buf, '\n')
}

// reset forgets a response that has not been sent yet (for a panic's 500).
func (w *response) reset() {
	w.hdr = nil
	w.buf = w.buf[:0]
	w.written = 0
	w.cl = -1
}

// unref drops one reference (see refs); the last one recycles w.
func (w *response) unref() {
	if w.refs.Add(-1) != 0 {
		return
	}
	buf := w.buf[:0]
	if cap(buf) > maxPooledOut {
		buf = nil
	}
	// The header map goes back emptied (its storage kept): a handler may
	// not use the ResponseWriter, Header included, after it returned.
	spare := w.hdr
	if spare == nil {
		spare = w.spare
	}
	if len(spare) > maxPooledHeader {
		spare = nil
	}
	clear(spare)
	out0 := w.out0.b[:0]
	if cap(out0) > maxPooledOut {
		out0 = nil
	}
	fn := w.out0.doneFn
	*w = response{buf: buf, spare: spare}
	w.out0 = outBuf{b: out0, own: true, doneFn: fn}
	respPool.Put(w)
}

func (w *response) Header() http.Header {
	if w.hdr == nil {
		w.hdr, w.spare = w.spare, nil
		if w.hdr == nil {
			w.hdr = make(http.Header)
		}
	}
	return w.hdr
}

func (w *response) WriteHeader(code int) {
	if w.hijacked {
		w.s.cfg.Logger.Warn("httpd: WriteHeader on a hijacked connection", "uri", w.j.req.RequestURI)
		return
	}
	if w.wroteHeader {
		return // superfluous, like net/http (which logs it)
	}
	if code < 100 || code > 999 {
		panic("httpd: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.sendInformational(code)
		return
	}
	w.status, w.wroteHeader = code, true
	for k, vs := range w.hdr { // any letter case: keys set on the map directly need not be canonical
		if len(vs) > 0 && fieldOf(k) == fieldContentLength {
			if n, err := strconv.ParseInt(vs[0], 10, 64); err == nil && n >= 0 {
				w.cl = n
			}
		}
	}
}

// sendInformational sends a 1xx response (103 Early Hints, say) at once.
func (w *response) sendInformational(code int) {
	if w.headerSent || w.j.minor == 0 {
		return
	}
	b := h1.AppendStatusLine(nil, 1, code)
	b, _, _ = w.appendHeaderFields(b)
	b = append(b, "\r\n"...)
	w.send(b)
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.j.head {
		return len(p), nil
	}
	if err := w.connErr(); err != nil {
		return 0, err
	}
	if err := w.writeExpired(); err != nil {
		return 0, err
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= streamThreshold {
		w.flush()
	}
	return len(p), nil
}

// WriteString avoids a copy for io.WriteString.
func (w *response) WriteString(s string) (int, error) {
	if len(s) <= 1024 {
		var tmp [1024]byte
		return w.Write(append(tmp[:0], s...))
	}
	return w.Write([]byte(s))
}

// streamThreshold is how much body a response buffers before it starts
// streaming (with chunked coding when the length is unknown).
const streamThreshold = 32 << 10

// Flush sends what is buffered now (http.Flusher).
func (w *response) Flush() {
	if w.hijacked {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.flush()
}

// FlushError is Flush reporting the connection's failure (and a passed
// write deadline). http.ResponseController.Flush calls it.
func (w *response) FlushError() error {
	if err := w.writeExpired(); err != nil {
		return err
	}
	w.Flush()
	return w.connErr()
}

func (w *response) flush() {
	if !w.headerSent {
		w.sendHeader(false)
	}
	if len(w.buf) == 0 {
		return
	}
	out := w.getOut()
	if w.chunked {
		out.b = h1.AppendChunk(out.b[:0], w.buf)
	} else {
		out.b = append(out.b[:0], w.buf...)
	}
	w.buf = w.buf[:0]
	w.sendOut(out)
}

// finish completes the response when the handler returns.
func (w *response) finish() {
	w.done = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.cl >= 0 && w.written < w.cl && bodyAllowedForStatus(w.status) && !w.j.head {
		// Promised more than written: the client would read the next
		// response as the rest of this body. Only a close ends it.
		w.closeAfter = true
		w.s.ctr.short.Add(1)
	}
	if !w.headerSent {
		// The whole response is here: one write, with its exact length.
		w.sendHeader(true)
		return
	}
	out := w.getOut()
	out.b = out.b[:0]
	if w.chunked {
		if len(w.buf) > 0 {
			out.b = h1.AppendChunk(out.b, w.buf)
		}
		out.b = h1.AppendLastChunk(out.b)
	} else {
		out.b = append(out.b, w.buf...)
	}
	w.buf = w.buf[:0]
	if len(out.b) > 0 {
		w.sendLast(out)
	} else {
		out.release()
	}
}

// sendLast queues the response's last bytes; their done callback resumes
// the connection on the loop.
func (w *response) sendLast(out *outBuf) {
	out.resume, out.closeConn = true, w.closeAfter
	w.resumeQueued = true
	w.sendOut(out)
}

// sendHeader queues the status line and header; with all set, the buffered
// body follows in the same write.
func (w *response) sendHeader(all bool) {
	w.headerSent = true
	s := w.s
	out := w.getOut()
	b := h1.AppendStatusLine(out.b[:0], w.j.minor, w.status)
	// The handler's fields come first (field order carries no meaning
	// between different names, RFC 9110 §5.3), so that one pass over the
	// map writes them and finds what the server adds.
	b, set, closeConn := w.appendHeaderFields(b)
	if set&fieldDate == 0 {
		b = append(b, *s.date.Load()...)
	}
	if s.cfg.ServerName != "" && set&fieldServer == 0 {
		b = append(b, "Server: "...)
		b = append(b, s.cfg.ServerName...)
		b = append(b, "\r\n"...)
	}
	hasBody := bodyAllowedForStatus(w.status)
	if hasBody && set&fieldContentType == 0 && len(w.buf) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(w.buf)...)
		b = append(b, "\r\n"...)
	}
	if closeConn || w.s.stopping.Load() {
		w.closeAfter = true
	}
	switch {
	case !hasBody:
	case w.cl >= 0:
		b = append(b, "Content-Length: "...)
		b = appendInt(b, w.cl)
		b = append(b, "\r\n"...)
	case all:
		b = append(b, "Content-Length: "...)
		b = appendInt(b, w.written)
		b = append(b, "\r\n"...)
	case w.j.minor >= 1:
		w.chunked = true
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	default:
		w.closeAfter = true // HTTP/1.0 without a length: the close ends the body
	}
	if w.closeAfter {
		b = append(b, "Connection: close\r\n"...)
	} else if w.j.minor == 0 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	if all && hasBody && !w.j.head {
		b = append(b, w.buf...)
		w.buf = w.buf[:0]
	}
	out.b = b
	if all {
		w.sendLast(out)
		return
	}
	w.sendOut(out)
}

// appendHeaderFields writes the handler's header fields, minus those the
// server controls, with CR and LF turned into spaces (no response
// splitting) and invalid names dropped. It reports which of Date, Server
// and Content-Type the handler set (a key with a nil value suppresses the
// server's, as in net/http), and whether it asked for Connection: close,
// in any letter case (keys set on the map directly need not be
// canonical), all in the one pass over the map that writes them.
func (w *response) appendHeaderFields(b []byte) (_ []byte, set int, closeConn bool) {
	for k, vs := range w.hdr {
		f := fieldOf(k)
		if f == fieldConnection && len(vs) > 0 && strings.EqualFold(vs[0], "close") {
			closeConn = true
		}
		if f&adapterOwned != 0 || !h1.ValidHeaderName(k) {
			continue
		}
		set |= f // a nil value suppresses the server's field, as in net/http
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendSanitized(b, v)
			b = append(b, "\r\n"...)
		}
	}
	return b, set, closeConn
}

// Fields the server writes itself, as a set of bits (fieldOf).
const (
	fieldDate = 1 << iota
	fieldServer
	fieldConnection
	fieldContentLength
	fieldTransferEncoding
	fieldTrailer
	fieldContentType
)

// fieldOf classifies a field name among those the server owns, in any
// letter case (keys set on a header map directly need not be canonical),
// without allocating; 0 for any other name.
func fieldOf(k string) int {
	switch k { // the canonical forms first: an equal-length compare, no case folding
	case "Date":
		return fieldDate
	case "Server":
		return fieldServer
	case "Content-Type":
		return fieldContentType
	case "Content-Length":
		return fieldContentLength
	case "Connection":
		return fieldConnection
	}
	switch len(k) {
	case 4:
		if strings.EqualFold(k, "Date") {
			return fieldDate
		}
	case 6:
		if strings.EqualFold(k, "Server") {
			return fieldServer
		}
	case 7:
		if strings.EqualFold(k, "Trailer") {
			return fieldTrailer
		}
	case 10:
		if strings.EqualFold(k, "Connection") {
			return fieldConnection
		}
	case 12:
		if strings.EqualFold(k, "Content-Type") {
			return fieldContentType
		}
	case 14:
		if strings.EqualFold(k, "Content-Length") {
			return fieldContentLength
		}
	case 17:
		if strings.EqualFold(k, "Transfer-Encoding") {
			return fieldTransferEncoding
		}
	}
	return 0
}

// adapterOwned are the fields dropped from a handler's header: the
// framing and connection management (Date and Server a handler may set).
const adapterOwned = fieldConnection | fieldContentLength | fieldTransferEncoding | fieldTrailer

func appendSanitized(b []byte, v string) []byte {
	clean := true
	for i := 0; i < len(v); i++ { // a plain loop: strings.IndexAny costs more for short values
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			clean = false
			break
		}
	}
	if clean {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' || c == 0 {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

func (w *response) send(b []byte) {
	out := w.getOut()
	out.b = append(out.b[:0], b...)
	w.sendOut(out)
}

// sendOut emits out in response order: written now on the response's
// turn, held until then otherwise (see responseOrder).
func (w *response) sendOut(out *outBuf) {
	if w.c.ord.emit(w, out) {
		w.write(out, true)
	}
}

// write queues out for the socket, first (with wait) waiting while more
// than responseHighWater bytes of this response are unsent (backpressure: a
// slow client slows its handler down). The wait ends early if the
// connection fails or WriteTimeout passes (the engine's deadline then
// closes the connection, which fails the pending writes).
func (w *response) write(out *outBuf, wait bool) {
	n := len(out.b)
	w.mu.Lock()
	for wait && w.pending > responseHighWater && w.werr == nil {
		w.cond.Wait()
	}
	if w.werr != nil {
		w.mu.Unlock()
		out.release()
		return
	}
	w.pending += n
	w.mu.Unlock()
	out.w = w
	w.refs.Add(1) // the done callback's
	if err := w.c.ec.AsyncWrite(out.b, out.doneFn); err != nil {
		w.sent(n, ErrConnClosed)
		out.release()
		w.unref()
	}
}

// sent is the write-done callback (on the loop).
func (w *response) sent(n int, err error) {
	w.mu.Lock()
	w.pending -= n
	if err != nil && w.werr == nil {
		w.werr = err
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *response) connErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.werr != nil {
		return ErrConnClosed
	}
	return nil
}

// abort drops the response and closes the connection.
func (w *response) abort() {
	w.aborted = true
	w.c.ec.Close()
}

// Hijack hands the connection to the handler (http.Hijacker). The returned
// bufio.Reader holds the bytes the client sent after the request.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := w.takeOver(); err != nil {
		return nil, nil, err
	}
	hc := newHijackConn(w.c)
	c := w.c
	if err := c.ec.Run(func(ec engineConn) { c.startHijack(hc) }); err != nil {
		hc.peerClosed()
	}
	return hc, bufio.NewReadWriter(bufio.NewReader(hc), bufio.NewWriter(hc)), nil
}
