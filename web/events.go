package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wharf/accounts"
	"wharf/channels"
	"wharf/chat"
	"wharf/iplimit"
)

// GET /api/events is a Server-Sent Events stream, the page's live view,
// and a connection of the channels Hub (a channels.Subscriber) like a
// packet connection:
//
//	event: hello        {"user": {...} | null, "stats": bool, "stream": "<id>", "lobby": "room:lobby"}
//	event: subscribe    the reply to each subscription of ?channels=a,b (a code 9 reply)
//	event: publication  a code 12 body, for each publication of a channel the stream subscribed to
//	event: join, leave  code 13 and 14 bodies
//	event: direct       a code 18 body, a direct message to the stream's user
//	event: stats        the Config.Stats object (every StatsInterval, if Stats is set)
//	event: logout       {} (the session ended; the stream closes)
//	: ping              (every Heartbeat)
//
// The stream subscribes through POST /api/channels/subscribe with the
// stream's id (the hello's "stream"), and the recovered publications come
// down the stream. The Hub delivers code 12 to 18 packets (chat's
// PacketEncoder, shared by every subscriber); the stream cuts their bodies
// out and queues them for the stream's goroutine without copying. The
// stats goroutine of the hub encodes each stats event once for every
// stream. A stream whose queue passes maxQueued bytes (its reader is too
// slow) is closed rather than allowed to hold memory or silently miss
// messages: the browser's EventSource reconnects, and the page subscribes
// again with recovery, which fills the gap.

// maxQueued bounds the bytes of events waiting for one stream's writer.
const maxQueued = 1 << 20

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
	endLagging                      // the queue filled up
	endLogout                       // its session was logged out
)

// streamIDs numbers streams as channels Subscribers; the top bit keeps
// them apart from packet connections' IDs.
var streamIDs atomic.Uint64

// stream is one open /api/events response, as the hub and the channels
// Hub see it.
type stream struct {
	hb     *hub
	id     string           // random: names the stream in /api/channels/subscribe and unsubscribe; read-only
	num    uint64           // its channels.Subscriber ID; read-only
	stats  bool             // an operations view (Handler.Admin): gets statistics, no channels; read-only
	token  string           // the session token, "" when not logged in; read-only
	user   string           // the user ID in channels, "" when not logged in; read-only
	anon   bool             // not logged in; read-only
	src    iplimit.Key      // the client's source address; read-only
	client *channels.Client // the stream in the Hub (nil for an operations view); set before it is listed, read-only

	mu     sync.Mutex // guards the fields below
	queue  []event    // written by Deliver and the hub, taken by the stream's handler
	queued int        // bytes of data in queue

	wake   chan struct{} // capacity 1: the queue is no longer empty
	ended  chan struct{} // closed by the hub, under hub.mu, when it drops the stream
	reason endReason     // set before ended is closed; read after
}

var _ channels.Subscriber = (*stream)(nil)

func (s *stream) ID() uint64     { return s.num }
func (s *stream) UserID() string { return s.user }

// pushEvents are the SSE event names of the Hub's packets, by code.
var pushEvents = map[uint16]string{
	chat.CodePublication: "publication",
	chat.CodeJoin:        "join",
	chat.CodeLeave:       "leave",
	chat.CodeDirect:      "direct",
}

// Deliver queues the events of p, one or more packets of
// chat.PacketEncoder that the Hub shares between subscribers: their bodies
// are queued as they are (the Hub never modifies p).
func (s *stream) Deliver(p []byte) error {
	select {
	case <-s.ended:
		return channels.ErrSubscriberClosed
	default:
	}
	s.mu.Lock()
	ok := chat.Bodies(p, func(code uint16, body []byte) {
		if name := pushEvents[code]; name != "" {
			s.queue = append(s.queue, event{name, body})
			s.queued += len(body)
		}
	})
	over := s.queued > maxQueued
	s.mu.Unlock()
	if !ok {
		return errors.New("web: malformed delivery") // counted as a failed delivery
	}
	if over {
		s.hb.end(s, endLagging)
		return channels.ErrSubscriberOverloaded
	}
	s.signal()
	return nil
}

// push queues ev, or reports false when the queue is full.
func (s *stream) push(ev event) bool {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.queued += len(ev.data)
	over := s.queued > maxQueued
	s.mu.Unlock()
	s.signal()
	return !over
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns the queued events and empties the queue.
func (s *stream) take() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue, s.queued = nil, 0
	return q
}

// hub keeps the open streams and fans stats out to them.
type hub struct {
	h    *Handler
	ctx  context.Context // ends when the hub closes; bounds Stats calls
	stop context.CancelFunc
	done <-chan struct{} // ctx.Done()
	wg   sync.WaitGroup

	mu         sync.Mutex // guards the fields below; never held while calling the channels Hub
	streams    map[*stream]struct{}
	byID       map[string]*stream
	anon       int                 // streams not logged in, operations views aside
	statsViews int                 // operations views (stream.stats)
	perSource  map[iplimit.Key]int // streams by source address
	closed     bool
	lastStats  []byte    // data of the last stats event, nil before the first
	lastStatAt time.Time // when lastStats was fetched
}

func newHub(h *Handler) *hub {
	hb := &hub{h: h, streams: map[*stream]struct{}{}, byID: map[string]*stream{}, perSource: map[iplimit.Key]int{}}
	hb.ctx, hb.stop = context.WithCancel(context.Background())
	hb.done = hb.ctx.Done()
	if h.cfg.Stats != nil {
		hb.wg.Add(1)
		go hb.statsLoop()
	}
	return hb
}

// close ends every stream and stops the hub's goroutine, waiting for it.
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
	hb.wg.Wait()
}

// join opens a stream for the session of token (user, in channels; ""
// for a visitor not logged in) of a client at src (the zero Key: not
// limited per address), and connects it to the channels Hub. Anonymous
// streams may take at most MaxAnonymousStreams of the MaxStreams, and one
// source at most MaxStreamsPerIP, so that nobody without an account can
// take every view.
func (hb *hub) join(token, user string, src iplimit.Key) (*stream, error) {
	s, err := hb.add(&stream{token: token, user: user, anon: user == "", src: src})
	if err != nil {
		return nil, err
	}
	s.client = hb.h.app.Hub().Connect(s)
	hb.mu.Lock()
	if _, open := hb.streams[s]; open { // not ended meanwhile (Close)
		hb.byID[s.id] = s
	}
	hb.mu.Unlock()
	return s, nil
}

// joinStats registers an operations view (Handler.Admin): statistics only,
// not counted against the visitors' limits, not in the channels Hub.
func (hb *hub) joinStats() (*stream, error) { return hb.add(&stream{stats: true}) }

func (hb *hub) add(s *stream) (*stream, error) {
	var raw [16]byte
	rand.Read(raw[:])
	s.hb, s.id, s.num = hb, base64.RawURLEncoding.EncodeToString(raw[:]), 1<<63|streamIDs.Add(1)
	s.wake, s.ended = make(chan struct{}, 1), make(chan struct{})
	hb.mu.Lock()
	defer hb.mu.Unlock()
	cfg := &hb.h.cfg
	switch {
	case hb.closed:
		return nil, errClosed
	case len(hb.streams) >= cfg.MaxStreams:
		return nil, errTooManyViews
	case s.anon && hb.anon >= cfg.MaxAnonymousStreams:
		hb.h.metrics.refused.Inc()
		return nil, errTooManyViews
	case s.src.IsValid() && hb.perSource[s.src] >= cfg.MaxStreamsPerIP:
		hb.h.metrics.refused.Inc()
		return nil, errTooManyViews
	}
	hb.streams[s] = struct{}{}
	if s.anon {
		hb.anon++
	}
	if s.stats {
		hb.statsViews++
	}
	if s.src.IsValid() {
		hb.perSource[s.src]++
	}
	return s, nil
}

// leave unregisters s, which may have been ended already, and takes it
// out of the channels Hub.
func (hb *hub) leave(s *stream) {
	hb.mu.Lock()
	hb.removeLocked(s)
	hb.mu.Unlock()
	if s.client != nil {
		s.client.Close()
	}
}

// removeLocked drops s from the hub's books and reports whether it was
// there; hb.mu must be held.
func (hb *hub) removeLocked(s *stream) bool {
	if _, ok := hb.streams[s]; !ok {
		return false
	}
	delete(hb.streams, s)
	delete(hb.byID, s.id)
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

// stream returns the open stream with that id, or nil.
func (hb *hub) stream(id string) *stream {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.byID[id]
}

// end drops s with a reason (its handler then leaves).
func (hb *hub) end(s *stream, why endReason) {
	hb.mu.Lock()
	hb.endLocked(s, why)
	hb.mu.Unlock()
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

// broadcast hands ev, a stats event, to every operations view, never
// blocking: a view with a full queue is ended.
func (hb *hub) broadcast(ev event) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for s := range hb.streams {
		if !s.stats {
			continue
		}
		if !s.push(ev) {
			hb.endLocked(s, endLagging)
		}
	}
}

func (hb *hub) watched() bool {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.statsViews > 0
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
			hb.broadcast(event{"stats", data})
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
	User   *userReply `json:"user"`
	Stats  bool       `json:"stats"`            // stats events follow (an operations view)
	Stream string     `json:"stream,omitempty"` // the stream's id, for /api/channels/subscribe
	Lobby  string     `json:"lobby"`            // the chat room's channel
}

// maxQueryChannels bounds ?channels= of /api/events.
const maxQueryChannels = 32

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
	var subs []string
	if q := r.URL.Query().Get("channels"); q != "" {
		if subs = strings.Split(q, ","); len(subs) > maxQueryChannels {
			writeError(w, &apiError{status: http.StatusBadRequest, text: "too many channels in ?channels="})
			return
		}
	}
	var s *stream
	switch {
	case admin:
		s, err = h.events.joinStats()
	case loggedIn:
		s, err = h.events.join(token, userID(u), h.clientSource(r))
	default:
		s, err = h.events.join("", "", h.clientSource(r))
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

	hello := helloEvent{Stats: admin && h.cfg.Stats != nil, Lobby: h.app.Lobby().String()}
	if !admin {
		hello.Stream = s.id
	}
	if loggedIn {
		hello.User = &userReply{OK: true, UserID: u.ID, Username: u.Username}
	}
	data, _ := json.Marshal(hello)
	sw.raw("retry: 3000\n\n")
	sw.event(event{"hello", data})
	if hello.Stats {
		if data := h.events.currentStats(); data != nil {
			sw.event(event{"stats", data})
		}
	}
	if admin {
		subs = nil // an operations view has no channels
	}
	for _, ch := range subs {
		rep := h.app.Subscribe(r.Context(), s.client, chat.SubscribeRequest{Channel: ch})
		data, _ := json.Marshal(rep)
		s.push(event{"subscribe", data})
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
		case <-s.wake:
			for _, ev := range s.take() {
				sw.event(ev)
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
	if sw.err != nil {
		return
	}
	sw.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	// One write per event: the header, the data, the terminator. The
	// data is JSON, compact as the App stores it; a line break in it
	// (JSON whitespace) would end the data line, so it starts another.
	b := make([]byte, 0, len("event: \ndata: \n\n")+len(ev.name)+len(ev.data))
	b = append(b, "event: "...)
	b = append(b, ev.name...)
	b = append(b, "\ndata: "...)
	for _, c := range ev.data {
		if c == '\n' || c == '\r' {
			b = append(b, "\ndata: "...)
			continue
		}
		b = append(b, c)
	}
	b = append(b, "\n\n"...)
	_, sw.err = sw.w.Write(b)
}

func (sw *sseWriter) flush() bool {
	if sw.err == nil {
		sw.err = sw.rc.Flush()
	}
	return sw.err == nil
}
