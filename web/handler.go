package web

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wharf/accounts"
	"wharf/chat"
)

// Config configures a Handler. Zero fields take the defaults in the
// comments; only App is required.
type Config struct {
	// App is the chat application: accounts, sessions and messages. The web
	// app is one more transport of it, beside TCP and KCP. Required.
	App *chat.App

	// Stats returns live server statistics: the dashboard, /api/stats,
	// the live view and /metrics show them (see Stats). It is called at
	// most once per StatsInterval for all live views together, on each
	// /metrics scrape and on each /api/stats request, each time with a
	// context that ends after a few seconds; it must be safe for
	// concurrent use. nil means there are no statistics: /api/stats
	// answers 404, the dashboard says so and /metrics carries only the
	// HTTP and Go runtime metrics.
	Stats func(ctx context.Context) (Stats, error)

	// Pprof serves the runtime's profiles at /debug/pprof/, with the URLs
	// of net/http/pprof, so "go tool pprof http://HOST/debug/pprof/heap"
	// works. Default false: profiles show the program's internals and a
	// CPU profile costs CPU, so expose them only where the listener is
	// private.
	Pprof bool

	// WebSocket, if set, serves GET /ws on the public face: wharfd mounts
	// the packet protocol over WebSocket there (subprotocol
	// wharf.packet.v1). Default none: /ws is 404.
	WebSocket http.Handler

	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed. For a
	// request from anywhere else those headers are ignored: anyone can
	// send them. Default none.
	TrustedProxies []netip.Prefix

	// TrustedOrigins are origins ("https://chat.example.com") allowed to
	// make cross-origin POSTs, for a deployment where the page is served
	// under another origin than the API. Default none: only same-origin
	// browser requests may change state.
	TrustedOrigins []string

	// Logger receives internal errors (never a password or a token).
	// Default slog.Default().
	Logger *slog.Logger

	// Registry is where the /metrics collectors are registered; /metrics
	// serves everything in it, so the caller may register more. Default a
	// new registry. Close unregisters what New registered.
	Registry *prometheus.Registry

	// Clock returns the current time, for cookie expiry. Default time.Now.
	Clock func() time.Time

	// StatsInterval is how often live views get a stats event. Default 1s.
	StatsInterval time.Duration

	// Heartbeat is how often an idle live view gets a comment line, which
	// keeps proxies from closing it, and has its session checked again, so
	// that a view whose session ended (logout elsewhere, expiry) stops
	// receiving messages. Default 15s.
	Heartbeat time.Duration

	// MaxStreams bounds the live views (/api/events) open at once; more
	// are answered 503. Each holds a goroutine and a connection for as long
	// as the page is open. Default 1000.
	MaxStreams int
	// MaxAnonymousStreams bounds the views of visitors not logged in, and
	// MaxStreamsPerIP those of one source address (an IPv4 address or an
	// IPv6 /64, after TrustedProxies), so that nobody can take every view;
	// refusals are 503s counted in wharf_http_streams_refused_total.
	// Defaults MaxStreams/4 and 16.
	MaxAnonymousStreams, MaxStreamsPerIP int

	// Push serves the push API (POST /api/publish and /api/broadcast) on
	// the operations face (Admin), and with PushOnPublic on the public
	// face too, where its API keys are what keeps it private (wharfd does
	// so when it has no admin listener). Default nil: those paths answer
	// 404.
	Push         *PushAPI
	PushOnPublic bool
}

// Default values of Config fields.
const (
	DefaultStatsInterval = time.Second
	DefaultHeartbeat     = 15 * time.Second
	DefaultMaxStreams    = 1000
)

// SessionCookie is the name of the cookie holding the session token.
const SessionCookie = "wharf_session"

// maxBody bounds request bodies (JSON and forms).
const maxBody = 64 << 10

// Handler is the web application: pages, JSON API, live events, health,
// metrics and, optionally, pprof. It is an http.Handler; ServeHTTP may be
// called from any number of goroutines at once, by net/http, by httpd or by
// a test.
//
// All fields are set by New and read-only afterwards; the mutable state
// lives in events (the live views, with their own lock), the App's
// channels Hub, and metrics (Prometheus types, safe for concurrent use).
type Handler struct {
	cfg         Config             // with defaults filled in
	app         *chat.App          // cfg.App
	acc         *accounts.Service  // app.Accounts()
	ttl         time.Duration      // session lifetime: accounts' SessionTTL, also the cookie's
	trusted     []netip.Prefix     // cfg.TrustedProxies, masked; a copy of the caller's slice
	routes      map[string]*route  // exact paths
	page        *template.Template // templates/*.html
	metrics     *metrics           // what /metrics serves and the middleware counts
	events      *hub               // the live views
	root        http.Handler       // middleware around dispatch: what ServeHTTP calls
	admin       http.Handler       // the same around the admin routes: what Admin returns
	adminRoutes map[string]*route  // Admin's exact paths

	closeOnce sync.Once // Close runs once
}

var _ http.Handler = (*Handler)(nil)

// route is what an exact path serves, by method.
type route struct {
	methods map[string]http.HandlerFunc
	allow   string // the Allow header for a 405
	api     bool   // errors as JSON
}

// New returns a Handler for cfg. It registers the /metrics collectors in
// cfg.Registry and, with cfg.Stats, starts the goroutine that sends stats
// to live views; Close stops it.
func New(cfg Config) (*Handler, error) {
	if cfg.App == nil {
		return nil, configError("Config.App", "must not be nil")
	}
	trusted := make([]netip.Prefix, len(cfg.TrustedProxies))
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, configError("Config.TrustedProxies", "entry %d is not a valid prefix", i)
		}
		trusted[i] = p.Masked()
	}
	cfg.TrustedProxies = trusted
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	switch {
	case cfg.StatsInterval == 0:
		cfg.StatsInterval = DefaultStatsInterval
	case cfg.StatsInterval < 0:
		return nil, configError("Config.StatsInterval", "must be positive, got %v", cfg.StatsInterval)
	}
	switch {
	case cfg.Heartbeat == 0:
		cfg.Heartbeat = DefaultHeartbeat
	case cfg.Heartbeat < 0:
		return nil, configError("Config.Heartbeat", "must be positive, got %v", cfg.Heartbeat)
	}
	switch {
	case cfg.MaxStreams == 0:
		cfg.MaxStreams = DefaultMaxStreams
	case cfg.MaxStreams < 0:
		return nil, configError("Config.MaxStreams", "must be positive, got %d", cfg.MaxStreams)
	}
	switch {
	case cfg.MaxAnonymousStreams < 0 || cfg.MaxStreamsPerIP < 0:
		return nil, configError("Config.MaxAnonymousStreams", "stream limits must be positive, got %d and %d", cfg.MaxAnonymousStreams, cfg.MaxStreamsPerIP)
	case cfg.MaxAnonymousStreams == 0:
		cfg.MaxAnonymousStreams = max(1, cfg.MaxStreams/4)
	}
	if cfg.MaxStreamsPerIP == 0 {
		cfg.MaxStreamsPerIP = 16
	}

	csrf := http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := csrf.AddTrustedOrigin(o); err != nil {
			return nil, configError("Config.TrustedOrigins", "%v", err)
		}
	}

	page, err := parsePage()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:     cfg,
		app:     cfg.App,
		acc:     cfg.App.Accounts(),
		trusted: trusted,
		page:    page,
	}
	h.ttl = h.acc.Config().SessionTTL
	h.metrics, err = newMetrics(cfg.Registry, cfg.Stats, cfg.Logger)
	if err != nil {
		return nil, err
	}
	h.routes = routeTable([]routeEntry{
		{"GET", "/", h.servePage},
		{"POST", "/register", h.formRegister},
		{"POST", "/login", h.formLogin},
		{"POST", "/logout", h.formLogout},
		{"POST", "/say", h.formSay},
		{"POST", "/api/register", h.apiRegister},
		{"POST", "/api/login", h.apiLogin},
		{"POST", "/api/logout", h.apiLogout},
		{"GET", "/api/me", h.apiMe},
		{"POST", "/api/say", h.apiSay},
		{"GET", "/api/messages", h.apiMessages},
		{"GET", "/api/events", h.apiEvents},
		{"POST", "/api/channels/subscribe", h.apiSubscribe},
		{"POST", "/api/channels/unsubscribe", h.apiUnsubscribe},
		{"POST", "/api/channels/publish", h.apiPublish},
		{"POST", "/api/channels/direct", h.apiDirect},
		{"POST", "/api/channels/presence", h.apiPresence},
		{"POST", "/api/channels/history", h.apiHistory},
		{"GET", "/api/names", h.apiNames},
		{"POST", "/api/channels/ticket", h.apiTicket},
		{"GET", "/healthz", h.serveHealth},
	}, cfg.WebSocket, cfg.Push, cfg.PushOnPublic)
	h.adminRoutes = routeTable([]routeEntry{
		{"GET", "/", h.servePage},
		{"GET", "/api/events", h.apiEvents},
		{"GET", "/api/stats", h.apiStats},
		{"GET", "/healthz", h.serveHealth},
		{"GET", "/metrics", h.metrics.serve},
	}, nil, cfg.Push, true)
	csrf.SetDenyHandler(http.HandlerFunc(h.denyCrossOrigin))
	h.root = h.metrics.middleware(h.securityHeaders(csrf.Handler(http.HandlerFunc(h.dispatch))))
	h.admin = h.metrics.middleware(h.securityHeaders(csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.dispatch(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, true)))
	}))))
	h.events = newHub(h)
	return h, nil
}

// routeEntry is one method and path of a route table. GET routes answer
// HEAD too.
type routeEntry struct {
	method, path string
	fn           http.HandlerFunc
}

// adminKey marks a request that came through Admin.
type adminKey struct{}

// isAdmin reports whether r came through Admin.
func isAdmin(r *http.Request) bool { return r.Context().Value(adminKey{}) != nil }

// routeTable makes a route table of entries, plus /ws when ws is set and
// the push API's paths when push is set and withPush.
func routeTable(entries []routeEntry, ws http.Handler, push *PushAPI, withPush bool) map[string]*route {
	if ws != nil {
		entries = append(entries, routeEntry{"GET", "/ws", ws.ServeHTTP})
	}
	if push != nil && withPush {
		entries = append(entries,
			routeEntry{"POST", "/api/publish", push.ServeHTTP},
			routeEntry{"POST", "/api/broadcast", push.ServeHTTP})
	}
	routes := map[string]*route{}
	for _, e := range entries {
		rt := routes[e.path]
		if rt == nil {
			rt = &route{methods: map[string]http.HandlerFunc{}, api: strings.HasPrefix(e.path, "/api/")}
			routes[e.path] = rt
		}
		rt.methods[e.method] = e.fn
		if e.method == http.MethodGet && e.path != "/api/events" && e.path != "/ws" {
			rt.methods[http.MethodHead] = e.fn
		}
	}
	for _, rt := range routes {
		var ms []string
		for m := range rt.methods {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		rt.allow = strings.Join(ms, ", ")
	}
	return routes
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.root.ServeHTTP(w, r)
}

// Admin is the operations face of the Handler, for a private listener
// (wharfd's [admin] listen, on loopback by default): the dashboard page
// with the server's statistics and live charts, /api/stats, the live
// statistics on /api/events, /metrics, /healthz and, with Config.Pprof,
// /debug/pprof/. It needs no login: whoever reaches the listener is an
// operator. The public face (ServeHTTP) keeps what a visitor needs: the
// chat and accounts, and /healthz for load balancers.
func (h *Handler) Admin() http.Handler { return h.admin }

// Close ends the live views (/api/events streams) and stops the goroutines
// that feed them, then unregisters the /metrics collectors New registered.
// Other routes keep working; new live views are refused with 503. Call it
// before (or from) the HTTP server's graceful shutdown, which would
// otherwise wait for the streams to end: for net/http,
// srv.RegisterOnShutdown(h.Close). Close is idempotent, safe from any
// goroutine, and returns when the goroutines have stopped.
func (h *Handler) Close() {
	h.closeOnce.Do(func() {
		h.events.close()
		h.metrics.unregister()
	})
}

// dispatch routes a request by path, then method.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	routes, admin := h.routes, isAdmin(r)
	if admin {
		routes = h.adminRoutes
	}
	if rt, ok := routes[p]; ok {
		fn := rt.methods[r.Method]
		if fn == nil {
			w.Header().Set("Allow", rt.allow)
			if rt.api {
				writeJSON(w, http.StatusMethodNotAllowed, failure{Error: "method " + r.Method + " not allowed, use " + rt.allow})
			} else {
				http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			}
			return
		}
		fn(w, r)
		return
	}
	switch {
	case strings.HasPrefix(p, "/static/"):
		serveStatic(w, r)
	case admin && h.cfg.Pprof && strings.HasPrefix(p, "/debug/pprof/"):
		servePprof(w, r)
	case strings.HasPrefix(p, "/api/"):
		writeError(w, errNotFound)
	default:
		h.notFound(w, r)
	}
}

// denyCrossOrigin answers a state-changing request that
// http.CrossOriginProtection refused.
func (h *Handler) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, errCrossOrigin)
		return
	}
	http.Error(w, "403 forbidden: cross-origin request refused", http.StatusForbidden)
}

// contentSecurityPolicy allows scripts, styles and connections to this
// origin only: no inline script or style, no framing, forms post only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every response carries.
func (h *Handler) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if h.secure(r) {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// serveHealth answers 200 "ok" when the account database answers a ping.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.acc.Store().Ping(ctx); err != nil {
		if !errors.Is(r.Context().Err(), context.Canceled) {
			h.cfg.Logger.Error("web: health check: database ping failed", "err", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unavailable\n"))
		return
	}
	w.Write([]byte("ok\n"))
}
