package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"wharf/channels"
	"wharf/chat"
	"wharf/iplimit"
)

// PushAPI is the server-side publish API, for the application's own
// backend: it publishes to channels and sends to users with no namespace
// rule applied, authenticated with API keys.
//
//	POST /api/publish    {"channel": "room:1", "data": <JSON>}  -> {"ok": true, "channel", "offset", "epoch", "delivered": N}
//	                     {"user": "42", "data": <JSON>}         -> {"ok": true, "user", "delivered": N}
//	POST /api/broadcast  {"channels": ["a", "b"], "data": <JSON>} -> {"ok": true, "delivered": N, "results": [<as publish>, ...]}
//
// Requests carry a key of PushConfig.Keys as "Authorization: apikey KEY"
// or "Authorization: Bearer KEY". delivered counts the connections of this
// process the message reached (other workers and nodes deliver it too,
// through the channels Broker). A refusal is {"ok": false, "error", and
// for a channel "reason"}: 401 without a valid key, 405 for another
// method, 400 for a malformed body, 413 for a body over MaxBody or data
// over the channels' MaxDataSize, 429 with Retry-After over a key's rate,
// and the channel refusals' statuses (404 unknown namespace, 503 history
// store down). A broadcast answers 200 with each channel's result; ok is
// false if any failed.
//
// wharfd serves it on the admin listener when there is one, and on the
// public HTTP listener otherwise (web Config.Push), where the key is what
// keeps it private. Its counters are Stats; ServeHTTP is safe for
// concurrent use.
type PushAPI struct {
	cfg     PushConfig
	keys    [][sha256.Size]byte // SHA-256 of each key, compared in constant time
	limiter *iplimit.Limiter[int]
	ctr     struct {
		requests, publications, deliveries          atomic.Uint64
		unauthorized, tooLarge, rateLimited, failed atomic.Uint64
	}
}

// PushConfig configures a PushAPI. Zero fields take the defaults in the
// comments; App and Keys are required.
type PushConfig struct {
	// App publishes. Required.
	App *chat.App
	// Keys are the API keys, each at least MinAPIKey bytes. At least one.
	Keys []string
	// MaxBody bounds a request body. Default 64 KiB.
	MaxBody int64
	// MaxChannels bounds the channels of one broadcast. Default 100.
	MaxChannels int
	// Rate and Burst bound the requests of one key: per second sustained
	// and at once (a broadcast counts one per channel). Defaults 1000 and
	// 2000.
	Rate  float64
	Burst int
	// Logger receives internal errors. Default slog.Default().
	Logger *slog.Logger
	// Clock is the rate limiter's. Default time.Now.
	Clock func() time.Time
}

// MinAPIKey is the shortest API key NewPushAPI accepts: a key is a
// password for programs, and a short one can be guessed.
const MinAPIKey = 16

// PushStats are a PushAPI's counters.
type PushStats struct {
	Requests     uint64 `json:"requests"`     // requests answered, whatever the outcome
	Publications uint64 `json:"publications"` // publications and direct messages made
	Deliveries   uint64 `json:"deliveries"`   // connections of this process they reached
	Unauthorized uint64 `json:"unauthorized"` // refused without a valid key (401)
	TooLarge     uint64 `json:"too_large"`    // refused for their size (413)
	RateLimited  uint64 `json:"rate_limited"` // refused over a key's rate (429)
	Failed       uint64 `json:"failed"`       // refused otherwise (400, 404, 405, 503, ...)
}

// Add adds o, another process's counters, into s.
func (s *PushStats) Add(o PushStats) {
	s.Requests += o.Requests
	s.Publications += o.Publications
	s.Deliveries += o.Deliveries
	s.Unauthorized += o.Unauthorized
	s.TooLarge += o.TooLarge
	s.RateLimited += o.RateLimited
	s.Failed += o.Failed
}

// NewPushAPI returns a PushAPI for cfg, or an error naming the bad field.
func NewPushAPI(cfg PushConfig) (*PushAPI, error) {
	if cfg.App == nil {
		return nil, configError("PushConfig.App", "must not be nil")
	}
	if len(cfg.Keys) == 0 {
		return nil, configError("PushConfig.Keys", "must list at least one key")
	}
	p := &PushAPI{}
	for i, k := range cfg.Keys {
		if len(k) < MinAPIKey {
			return nil, configError("PushConfig.Keys", "key %d has %d bytes, want at least %d", i, len(k), MinAPIKey)
		}
		p.keys = append(p.keys, sha256.Sum256([]byte(k)))
	}
	cfg.Keys = nil // only the hashes are kept
	switch {
	case cfg.MaxBody == 0:
		cfg.MaxBody = maxBody
	case cfg.MaxBody < 0:
		return nil, configError("PushConfig.MaxBody", "must be positive, got %d", cfg.MaxBody)
	}
	switch {
	case cfg.MaxChannels == 0:
		cfg.MaxChannels = 100
	case cfg.MaxChannels < 0:
		return nil, configError("PushConfig.MaxChannels", "must be positive, got %d", cfg.MaxChannels)
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1000
	}
	if cfg.Burst == 0 {
		cfg.Burst = 2000
	}
	if cfg.MaxChannels > cfg.Burst {
		return nil, configError("PushConfig.MaxChannels", "%d is more than Burst (%d): such a broadcast could never pass", cfg.MaxChannels, cfg.Burst)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var err error
	p.limiter, err = iplimit.NewLimiter[int](iplimit.LimiterConfig{Rate: cfg.Rate, Burst: cfg.Burst, Clock: cfg.Clock})
	if err != nil {
		return nil, configError("PushConfig.Rate", "%v", err)
	}
	p.cfg = cfg
	return p, nil
}

// Stats returns the counters.
func (p *PushAPI) Stats() PushStats {
	c := &p.ctr
	return PushStats{
		Requests: c.requests.Load(), Publications: c.publications.Load(), Deliveries: c.deliveries.Load(),
		Unauthorized: c.unauthorized.Load(), TooLarge: c.tooLarge.Load(), RateLimited: c.rateLimited.Load(), Failed: c.failed.Load(),
	}
}

type pushRequest struct {
	Channel  string          `json:"channel"`
	User     string          `json:"user"`
	Channels []string        `json:"channels"`
	Data     json.RawMessage `json:"data"`
}

type broadcastReply struct {
	OK        bool                `json:"ok"`
	Delivered int                 `json:"delivered"`
	Results   []chat.ChannelReply `json:"results"`
}

// ServeHTTP implements http.Handler for the paths /api/publish and
// /api/broadcast.
func (p *PushAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.ctr.requests.Add(1)
	broadcast := false
	switch r.URL.Path {
	case "/api/publish":
	case "/api/broadcast":
		broadcast = true
	default:
		p.refuse(w, errNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		p.refuse(w, &apiError{status: http.StatusMethodNotAllowed, text: "method " + r.Method + " not allowed, use POST"})
		return
	}
	key, ok := p.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `apikey realm="wharf push API"`)
		p.refuse(w, &apiError{status: http.StatusUnauthorized, text: `a valid API key is required: "Authorization: apikey KEY"`})
		return
	}
	var req pushRequest
	if err := decodeJSONLimit(w, r, &req, p.cfg.MaxBody); err != nil {
		p.refuse(w, err)
		return
	}
	cost := 1
	if broadcast {
		cost = len(req.Channels)
	}
	switch {
	case len(req.Data) == 0:
		p.refuse(w, &apiError{status: http.StatusBadRequest, text: "data is required"})
		return
	case broadcast && (len(req.Channels) == 0 || req.Channel != "" || req.User != ""):
		p.refuse(w, &apiError{status: http.StatusBadRequest, text: "a broadcast takes channels (a list) and data"})
		return
	case broadcast && len(req.Channels) > p.cfg.MaxChannels:
		p.refuse(w, &apiError{status: http.StatusRequestEntityTooLarge, text: "at most " + strconv.Itoa(p.cfg.MaxChannels) + " channels in a broadcast"})
		return
	case !broadcast && (req.Channel == "") == (req.User == "") || !broadcast && len(req.Channels) > 0:
		p.refuse(w, &apiError{status: http.StatusBadRequest, text: "a publish takes either channel or user, and data"})
		return
	}
	if ok, retry := p.limiter.AllowN(key, cost); !ok {
		p.refuse(w, &apiError{status: http.StatusTooManyRequests, text: "rate limited (API key), retry later", retry: max(retry, time.Second)})
		return
	}
	switch {
	case broadcast:
		rep := broadcastReply{OK: true, Results: make([]chat.ChannelReply, 0, len(req.Channels))}
		for _, ch := range req.Channels {
			res := p.publish(r, ch, req.Data)
			rep.OK = rep.OK && res.OK
			if res.Delivered != nil {
				rep.Delivered += *res.Delivered
			}
			rep.Results = append(rep.Results, res)
		}
		writeJSON(w, http.StatusOK, rep)
	case req.User != "":
		n, err := p.cfg.App.SendToUser(req.User, req.Data)
		rep := chat.ChannelReply{User: req.User}
		if err != nil {
			p.answer(w, p.failure(&rep, err))
			return
		}
		p.counted(n)
		rep.OK, rep.Delivered = true, &n
		writeJSON(w, http.StatusOK, rep)
	default:
		rep := p.publish(r, req.Channel, req.Data)
		p.answer(w, rep)
	}
}

// publish makes one publication and returns its result.
func (p *PushAPI) publish(r *http.Request, channel string, data []byte) chat.ChannelReply {
	rep := chat.ChannelReply{Channel: channel}
	name, err := channels.ParseName(channel)
	var res channels.PublishResult
	if err == nil {
		res, err = p.cfg.App.Publish(r.Context(), name, data)
	}
	if err != nil {
		return p.failure(&rep, err)
	}
	p.counted(res.Delivered)
	rep.OK, rep.Offset, rep.Epoch, rep.Delivered = true, res.Position.Offset, res.Position.Epoch, &res.Delivered
	return rep
}

func (p *PushAPI) counted(delivered int) {
	p.ctr.publications.Add(1)
	p.ctr.deliveries.Add(uint64(delivered))
}

// failure fills rep with err's reason.
func (p *PushAPI) failure(rep *chat.ChannelReply, err error) chat.ChannelReply {
	reason, text, ok := chat.Reason(err)
	if !ok {
		p.cfg.Logger.Error("web: push API", "channel", rep.Channel, "user", rep.User, "err", err)
		reason, text = "internal", "internal error"
	}
	rep.Reason, rep.Error = reason, text
	return *rep
}

// answer writes a publish reply with its reason's status, counting a
// refusal.
func (p *PushAPI) answer(w http.ResponseWriter, rep chat.ChannelReply) {
	st := statusOf(rep.Reason)
	switch {
	case st == http.StatusRequestEntityTooLarge:
		p.ctr.tooLarge.Add(1)
	case st != http.StatusOK:
		p.ctr.failed.Add(1)
	}
	writeJSON(w, st, rep)
}

// refuse answers and counts a refusal.
func (p *PushAPI) refuse(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal
	}
	switch ae.status {
	case http.StatusUnauthorized:
		p.ctr.unauthorized.Add(1)
	case http.StatusRequestEntityTooLarge:
		p.ctr.tooLarge.Add(1)
	case http.StatusTooManyRequests:
		p.ctr.rateLimited.Add(1)
	default:
		p.ctr.failed.Add(1)
	}
	writeError(w, ae)
}

// authenticate returns the index of the request's key, comparing it with
// every key in constant time.
func (p *PushAPI) authenticate(r *http.Request) (int, bool) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !(strings.EqualFold(scheme, "apikey") || strings.EqualFold(scheme, "bearer")) {
		return 0, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	found := -1
	for i := range p.keys {
		if subtle.ConstantTimeCompare(sum[:], p.keys[i][:]) == 1 {
			found = i
		}
	}
	return found, found >= 0
}
