package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"wharf/accounts"
	"wharf/chat"
	"wharf/iplimit"
)

// GET /api/events is a Server-Sent Events stream, the page's live view:
//
//	event: hello     {"user": {"user_id": N, "username": "..."} | null, "stats": bool}
//	event: history   {"messages": [...]}            (logged in; right after hello)
//	event: message   {"from": "...", "text": "...", "ts": N}   (logged in)
//	event: stats     the Config.Stats object        (every StatsInterval, if Stats is set)
//	event: logout    {}                             (the session ended; the stream closes)
//	: ping                                          (every Heartbeat)
//
// One goroutine of the hub reads chat.App's messages and one reads
// Config.Stats; both hand each event, encoded once, to every stream's
// buffered channel without blocking. A stream whose buffer is full (its
// reader is too slow) is closed rather than allowed to hold the others up
// or silently miss messages: the browser's EventSource reconnects, and the
// history event it gets then fills the gap.

// streamBuffer is the number of events a stream may fall behind by.
const streamBuffer = 64

// writeTimeout bounds one write to a stream, so a client that stops
// reading frees its goroutine.
const writeTimeout = 10 * time.Second

// event is one SSE event: its name and its data, a line of JSON.
type event struct {
	name string
	data []byte
}

// endReason says why the hub ended a stream.
type endReason int

const (
	endClosed  endReason = iota + 1 // Handler.Close
	endLagging                      // the buffer filled up
	endLogout                       // its session was logged out
)

// stream is one open /api/events response, as the hub sees it.
type stream struct {
	stats bool        // an operations view (Handler.Admin): gets statistics, no chat; read-only
	token string      // the session token, "" when not logged in; read-only
	anon  bool        // not logged in; read-only
	src   iplimit.Key // the client's source address; read-only
	out   chan event  // written by the hub (holding hub.mu), read by the stream's handler

	ended  chan struct{} // closed by the hub, under hub.mu, when it drops the stream
	reason endReason     // set before ended is closed; read after
}

// hub fans chat messages and stats out to the streams.
type hub struct {
	h     *Handler
	msgs  <-chan chat.Message
	unsub func()
	ctx   context.Context // ends when the hub closes; bounds Stats calls
	stop  context.CancelFunc
	done  <-chan struct{} // ctx.Done()
	wg    sync.WaitGroup

	mu         sync.Mutex // guards the fields below
	streams    map[*stream]struct{}
	anon       int                 // streams not logged in, operations views aside
	statsViews int                 // operations views (stream.stats)
	perSource  map[iplimit.Key]int // streams by source address
	closed     bool
	lastStats  []byte    // data of the last stats event, nil before the first
	lastStatAt time.Time // when lastStats was fetched
}

func newHub(h *Handler) *hub {
	hb := &hub{h: h, streams: map[*stream]struct{}{}, perSource: map[iplimit.Key]int{}}
	hb.ctx, hb.stop = context.WithCancel(context.Background())
	hb.done = hb.ctx.Done()
	// The App drops messages for a subscriber whose buffer is full; the
	// hub only copies each message to buffers, so a large buffer means
	// it never falls behind in practice.
	hb.msgs, hb.unsub = h.app.Subscribe(1024)
	hb.wg.Add(1)
	go hb.messageLoop()
	if h.cfg.Stats != nil {
		hb.wg.Add(1)
		go hb.statsLoop()
	}
	return hb
}

// close ends every stream and stops the hub's goroutines, waiting for them.
func (hb *hub) close() {
	hb.mu.Lock()
	if hb.closed {
		hb.mu.Unlock()
		return
	}
	hb.closed = true
	for s := range hb.streams {
		hb.endLocked(s, endClosed)
	}
	hb.mu.Unlock()
	hb.stop()
	hb.unsub()
	hb.wg.Wait()
}

// join registers a new stream of a client at src (the zero Key: not
// limited per address), logged in or not (anonymous). Anonymous streams
// may take at most MaxAnonymousStreams of the MaxStreams, and one source
// at most MaxStreamsPerIP, so that nobody without an account can take
// every view.
func (hb *hub) join(token string, anonymous bool, src iplimit.Key) (*stream, error) {
	return hb.add(&stream{token: token, anon: anonymous, src: src})
}

// joinStats registers an operations view (Handler.Admin): statistics only,
// not counted against the visitors' limits.
func (hb *hub) joinStats() (*stream, error) { return hb.add(&stream{stats: true}) }

func (hb *hub) add(s *stream) (*stream, error) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	cfg := &hb.h.cfg
	anonymous, src := s.anon, s.src
	switch {
	case hb.closed:
		return nil, errClosed
	case len(hb.streams) >= cfg.MaxStreams:
		return nil, errTooManyViews
	case anonymous && hb.anon >= cfg.MaxAnonymousStreams:
		hb.h.metrics.refused.Inc()
		return nil, errTooManyViews
	case src.IsValid() && hb.perSource[src] >= cfg.MaxStreamsPerIP:
		hb.h.metrics.refused.Inc()
		return nil, errTooManyViews
	}
	s.out, s.ended = make(chan event, streamBuffer), make(chan struct{})
	hb.streams[s] = struct{}{}
	if anonymous {
		hb.anon++
	}
	if s.stats {
		hb.statsViews++
	}
	if src.IsValid() {
		hb.perSource[src]++
	}
	return s, nil
}

// leave unregisters s; it may have been ended already.
func (hb *hub) leave(s *stream) {
	hb.mu.Lock()
	hb.removeLocked(s)
	hb.mu.Unlock()
}

// removeLocked drops s from the hub's books and reports whether it was
// there; hb.mu must be held.
func (hb *hub) removeLocked(s *stream) bool {
	if _, ok := hb.streams[s]; !ok {
		return false
	}
	delete(hb.streams, s)
	if s.anon {
		hb.anon--
	}
	if s.stats {
		hb.statsViews--
	}
	if s.src.IsValid() {
		if hb.perSource[s.src]--; hb.perSource[s.src] == 0 {
			delete(hb.perSource, s.src)
		}
	}
	return true
}

// endLocked drops s from the hub with a reason; hb.mu must be held.
func (hb *hub) endLocked(s *stream, why endReason) {
	if !hb.removeLocked(s) {
		return
	}
	s.reason = why
	close(s.ended)
}

// endSession ends the streams of a session that was logged out.
func (hb *hub) endSession(token string) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for s := range hb.streams {
		if s.token == token {
			hb.endLocked(s, endLogout)
		}
	}
}

// broadcast hands ev to every stream (only to logged-in ones if usersOnly),
// never blocking: a stream with a full buffer is ended.
func (hb *hub) broadcast(ev event, usersOnly bool) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for s := range hb.streams {
		if (usersOnly && s.token == "") || (ev.name == "stats" && !s.stats) {
			continue
		}
		select {
		case s.out <- ev:
		default:
			hb.endLocked(s, endLagging)
		}
	}
}

func (hb *hub) watched() bool {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.statsViews > 0
}

func (hb *hub) messageLoop() {
	defer hb.wg.Done()
	for {
		select {
		case <-hb.done:
			return
		case m := <-hb.msgs:
			data, _ := json.Marshal(m) // strings and an int64: cannot fail
			hb.broadcast(event{"message", data}, true)
		}
	}
}

func (hb *hub) statsLoop() {
	defer hb.wg.Done()
	t := time.NewTicker(hb.h.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-hb.done:
			return
		case <-t.C:
		}
		if !hb.watched() {
			continue // nobody looks: spare the Stats call
		}
		if data := hb.fetchStats(); data != nil {
			hb.broadcast(event{"stats", data}, false)
		}
	}
}

// fetchStats calls Config.Stats and remembers the encoded result; nil if
// it failed.
func (hb *hub) fetchStats() []byte {
	st, err := hb.h.stats(hb.ctx)
	if err != nil {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		hb.h.cfg.Logger.Warn("web: stats cannot be encoded as JSON", "err", err)
		return nil
	}
	hb.mu.Lock()
	hb.lastStats, hb.lastStatAt = data, time.Now()
	hb.mu.Unlock()
	return data
}

// currentStats returns recent stats for a stream that just opened: the
// last broadcast if it is fresh, else a new fetch.
func (hb *hub) currentStats() []byte {
	hb.mu.Lock()
	data, at := hb.lastStats, hb.lastStatAt
	hb.mu.Unlock()
	if data != nil && time.Since(at) < hb.h.cfg.StatsInterval {
		return data
	}
	return hb.fetchStats()
}

type helloEvent struct {
	User  *userReply `json:"user"`
	Stats bool       `json:"stats"`
}

// apiEvents serves one stream until the client leaves, its session ends
// or the Handler closes.
func (h *Handler) apiEvents(w http.ResponseWriter, r *http.Request) {
	admin := isAdmin(r)
	var (
		u        accounts.User
		token    string
		loggedIn bool
		err      error
	)
	if !admin {
		if u, token, loggedIn, err = h.user(w, r); err != nil {
			writeError(w, h.appError(r, "authenticate", err))
			return
		}
	}
	var s *stream
	if admin {
		s, err = h.events.joinStats()
	} else {
		s, err = h.events.join(token, !loggedIn, h.clientSource(r))
	}
	if err != nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, err)
		return
	}
	defer h.events.leave(s)
	markStreaming(w)
	h.metrics.streams.Inc()
	defer h.metrics.streams.Dec()

	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	hello := helloEvent{Stats: admin && h.cfg.Stats != nil}
	if loggedIn {
		hello.User = &userReply{OK: true, UserID: u.ID, Username: u.Username}
	}
	data, _ := json.Marshal(hello)
	sw.raw("retry: 3000\n\n")
	sw.event(event{"hello", data})
	if loggedIn {
		data, _ := json.Marshal(messagesReply{Messages: history(h.app)})
		sw.event(event{"history", data})
	}
	if hello.Stats {
		if data := h.events.currentStats(); data != nil {
			sw.event(event{"stats", data})
		}
	}
	if !sw.flush() {
		return
	}

	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ended:
			if s.reason == endLogout {
				sw.event(event{"logout", []byte("{}")})
				sw.flush()
			}
			return
		case ev := <-s.out:
			sw.event(ev)
			// Send what else is queued in the same flush.
			for more := true; more; {
				select {
				case ev := <-s.out:
					sw.event(ev)
				default:
					more = false
				}
			}
		case <-beat.C:
			if loggedIn {
				_, err := h.authenticate(r.Context(), token)
				if errors.Is(err, accounts.ErrInvalidToken) {
					sw.event(event{"logout", []byte("{}")})
					sw.flush()
					return
				}
				// Another error is the database's; the session may
				// well be fine, so the stream goes on.
			}
			sw.raw(": ping\n\n")
		}
		if !sw.flush() {
			return
		}
	}
}

// sseWriter writes events with a deadline per write; after the first
// failure it writes nothing more and flush reports false.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func (sw *sseWriter) raw(s string) {
	if sw.err != nil {
		return
	}
	// A server that cannot set deadlines (ErrNotSupported) still works;
	// it just cannot drop a stalled reader as early.
	sw.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, sw.err = sw.w.Write([]byte(s))
}

func (sw *sseWriter) event(ev event) {
	sw.raw("event: " + ev.name + "\ndata: " + string(ev.data) + "\n\n")
}

func (sw *sseWriter) flush() bool {
	if sw.err == nil {
		sw.err = sw.rc.Flush()
	}
	return sw.err == nil
}
