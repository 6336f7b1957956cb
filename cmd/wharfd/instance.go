package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wharf/accounts"
	"wharf/chat"
	"wharf/cluster"
	"wharf/config"
	"wharf/endpoint"
	"wharf/engine"
	"wharf/httpd"
	"wharf/kcp"
	"wharf/logging"
	"wharf/server"
	"wharf/supervisor"
	"wharf/tlsconn"
	"wharf/web"
	"wharf/websocket"
)

// instance is one generation of wharfd's serving side in one process: the
// packet server with the chat application on the accounts store. It is the
// supervisor's App.
type instance struct {
	cfg   config.Config
	log   *slog.Logger
	lg    *logging.Logger // the worker's own logger (nil in-process: the master's)
	store accounts.Store
	acc   *accounts.Service
	app   *chat.App
	srv   *server.Server
	http  *httpd.Server     // the plain listeners of [http] listen; nil when none
	https *httpd.Server     // the tls:// listeners of [http] listen; nil when none
	admin *httpd.Server     // nil when [admin] listen is empty
	ws    *websocket.Server // the packet protocol at /ws of http and https; nil without them
	tls   *tlsTransport     // the tls:// listeners of [server] listen; nil when none
	kcps  []*kcp.Transport  // one per [kcp] listen address
	web   *web.Handler
	push  *web.PushAPI // the [push] API; nil without keys
	hub   *supervisor.Hub
	node  *cluster.Node                 // this process as a [cluster] node; nil without a broker
	srvp  atomic.Pointer[server.Server] // srv, for the node's goroutine (set once srv exists)
	stop  chan struct{}                 // ends the purge and expiry loops
	done  chan struct{}                 // closed when the purge loop ended
	// expired is closed when the history expiry loop ended.
	expired chan struct{}
}

var _ supervisor.App = (*instance)(nil)

// listenAddrs lists every socket the configuration serves, for the master.
// The master keys sockets by their string, so the workers ask for them with
// the same canonical form (Addr.String).
func listenAddrs(cfg config.Config) []supervisor.Addr {
	var out []supervisor.Addr
	for _, list := range [][]endpoint.Addr{cfg.Server.Listen, cfg.HTTP.Listen, cfg.Admin.Listen, cfg.KCP.Listen} {
		for _, a := range list {
			out = append(out, supervisor.Addr(a.String()))
		}
	}
	return out
}

// startInstance opens the database, builds the servers on env's sockets
// and starts serving.
func startInstance(cfg config.Config, env *supervisor.Env, log *slog.Logger, lg *logging.Logger) (*instance, error) {
	ctx := context.Background()
	in := &instance{cfg: cfg, log: log, lg: lg, hub: env.Hub, stop: make(chan struct{}), done: make(chan struct{}), expired: make(chan struct{})}
	dbURL := cfg.ResolvedDatabaseURL()
	store, err := accounts.Open(ctx, dbURL, accounts.StoreOptions{MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return nil, fmt.Errorf("wharfd: open database %s: %w", accounts.RedactURL(dbURL), err)
	}
	in.store = store
	fail := func(err error) (*instance, error) {
		if in.http != nil {
			in.http.Close()
		}
		if in.https != nil {
			in.https.Close()
		}
		if in.admin != nil {
			in.admin.Close()
		}
		if in.web != nil {
			in.web.Close()
		}
		if in.srv != nil {
			in.srv.Shutdown(ctx)
		}
		if in.node != nil {
			in.node.Close()
		}
		store.Close()
		return nil, err
	}
	ch := cfg.Chat
	if in.acc, err = accounts.NewService(store, accounts.Config{
		LoginWait:    time.Duration(ch.LoginWait),
		RegisterWait: time.Duration(ch.RegisterWait),
	}); err != nil {
		return fail(err)
	}
	if err := in.joinCluster(env); err != nil {
		return fail(err)
	}
	hc, err := appChannels(ctx, cfg, store, env.Hub, in.node)
	if err != nil {
		return fail(err)
	}
	verifier, err := jwtVerifier(cfg.JWT)
	if err != nil {
		return fail(err)
	}
	chc := cfg.Channels
	in.app, err = chat.New(in.acc, chat.Config{
		Channels:             hc,
		Lobby:                chc.Lobby,
		PublishRate:          float64(time.Second) / float64(chc.PublishInterval),
		PublishBurst:         chc.PublishBurst,
		PublishPerIPRate:     float64(time.Second) / float64(chc.PublishPerIPInterval),
		PublishPerIPBurst:    chc.PublishPerIPBurst,
		JWT:                  verifier,
		FailuresPerIP:        ch.LoginFailuresPerIP,
		FailuresPerUser:      ch.LoginFailuresPerUser,
		FailuresPerUserTotal: ch.LoginFailuresPerUserTotal,
		RegistersPerIP:       ch.RegisterPerIP,
		RegistersPerSecond:   ch.RegisterRate,
		SayRate:              float64(time.Second) / float64(ch.SayInterval),
		SayBurst:             ch.SayBurst,
		SayPerIPRate:         float64(time.Second) / float64(ch.SayPerIPInterval),
		SayPerIPBurst:        ch.SayPerIPBurst,
		MaxFanout:            ch.MaxFanout,
		Logger:               log,
	})
	if err != nil {
		return fail(err)
	}
	rt := server.NewRouter()
	in.app.Routes(rt)
	if in.srv, err = server.New(serverConfig(cfg, log), rt); err != nil {
		return fail(err)
	}
	in.srvp.Store(in.srv)
	in.app.Attach(in.srv)
	if in.node != nil {
		in.app.Relay(in.node.Relay()) // every node, this master's other workers included
	} else {
		in.app.Relay(env.Hub)
	}
	for _, addr := range cfg.Server.Listen {
		if addr.Scheme == "tls" {
			continue // startTLS
		}
		ln, err := env.Listener(addr.String())
		if err != nil {
			return fail(err)
		}
		if err := in.srv.AddListener(ln); err != nil {
			return fail(err)
		}
	}
	if err := in.srv.Start(); err != nil {
		return fail(err)
	}
	if err := in.startKCP(env); err != nil {
		return fail(err)
	}
	if err := in.startTLS(env); err != nil {
		return fail(err)
	}
	if len(cfg.HTTP.Listen) > 0 || len(cfg.Admin.Listen) > 0 {
		if err := in.startHTTP(env); err != nil {
			return fail(err)
		}
	}
	go in.purgeSessions()
	go in.expireHistory()
	if in.tls != nil || in.https != nil {
		logKernelTLS(in)
	}
	log.Info("wharfd: serving", "what", in.describe())
	return in, nil
}

// serverConfig maps the [server] table onto server.Config. The config file
// says 0 to disable the idle timeout (and, in interval mode, flood_interval
// "0s" to disable the flood guard); server.Config says so with negative
// values (and FloodOff).
func serverConfig(cfg config.Config, log *slog.Logger) server.Config {
	c := cfg.Server
	sc := server.Config{
		MaxConnections:      c.MaxConnections,
		MaxConnectionsPerIP: c.MaxConnectionsPerIP,
		IdleTimeout:         time.Duration(c.IdleTimeout),
		FloodRate:           float64(c.FloodRate),
		FloodBurst:          c.FloodBurst,
		FloodInterval:       time.Duration(c.FloodInterval),
		FloodCount:          c.FloodCount,
		MaxPendingPerConn:   c.MaxPendingPerConn,
		MaxPendingTotal:     c.MaxPendingTotal,
		Handlers:            c.Handlers,
		HandlerQueue:        c.HandlerQueue,
		StatsInterval:       time.Duration(c.StatsInterval),
		MaxPacket:           int(c.MaxPacket),
		MaxBadPackets:       c.MaxBadPackets,
		Logger:              log,
	}
	if sc.IdleTimeout == 0 {
		sc.IdleTimeout = -1
	}
	sc.FloodMode, _ = server.ParseFloodMode(c.FloodMode) // validated by config
	if sc.FloodMode == server.FloodByInterval && sc.FloodInterval == 0 {
		sc.FloodMode = server.FloodOff
	}
	if sc.StatsInterval == 0 {
		sc.StatsInterval = -1
	}
	sc.Engine.Kind, _ = engine.ParseKind(c.Engine) // validated by config
	sc.Engine.Loops = c.Loops
	return sc
}

// purgeSessions deletes expired login sessions hourly.
func (in *instance) purgeSessions() {
	defer close(in.done)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
			if n, err := in.acc.PurgeExpired(context.Background()); err != nil {
				in.log.Warn("wharfd: purge expired sessions", "err", err)
			} else if n > 0 {
				in.log.Info("wharfd: purged expired sessions", "count", n)
			}
		}
	}
}

// startKCP serves the packet server over KCP on the [kcp] listeners, with
// the server's limits (SPEC §6).
func (in *instance) startKCP(env *supervisor.Env) error {
	c := in.cfg.KCP
	sc := in.srv.Config()
	mode, err := kcp.ParseMode(c.Mode)
	if err != nil {
		return err
	}
	cookies, err := kcp.ParseCookieMode(c.Cookies) // validated by config
	if err != nil {
		return err
	}
	kc := kcp.Config{
		Mode:         mode,
		SendWindow:   c.SendWindow,
		RecvWindow:   c.RecvWindow,
		MTU:          c.MTU,
		MaxSessions:  c.MaxSessions,
		DataShards:   c.DataShards,
		ParityShards: c.ParityShards,
		Key:          c.Key,
		Cookies:      cookies,
		Engine:       sc.Engine, // the TCP engine's limits, logger and clock
		Logger:       in.log,
		Clock:        sc.Clock,
	}
	if sc.IdleTimeout > 0 {
		kc.IdleTimeout = sc.IdleTimeout
	}
	for _, addr := range c.Listen {
		pc, err := env.PacketConn(addr.String())
		if err != nil {
			return err
		}
		t, err := kcp.Serve(pc, kc, in.srv.Handler())
		if err != nil {
			pc.Close()
			return fmt.Errorf("wharfd: kcp on %s: %w", addr, err)
		}
		in.srv.Attach(t)
		in.kcps = append(in.kcps, t)
	}
	return nil
}

// startHTTP serves the web application on the [http] listeners.
func (in *instance) startHTTP(env *supervisor.Env) error {
	cfg := in.cfg
	var proxies []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxies {
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return fmt.Errorf("wharfd: http.trusted_proxies: %q is not an address or CIDR", p)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		proxies = append(proxies, pf)
	}
	handlers := cfg.HTTP.Handlers
	if handlers == 0 {
		handlers = 4096
	}
	var err error
	if len(cfg.HTTP.Listen) > 0 {
		if in.ws, err = newPacketWebSocket(in.srv); err != nil {
			return err
		}
	}
	if in.push, err = in.pushAPI(); err != nil {
		return err
	}
	in.web, err = web.New(web.Config{
		Push:           in.push,
		PushOnPublic:   len(cfg.Admin.Listen) == 0, // no admin listener: the keys guard it on the public one
		WebSocket:      httpHandlerOrNil(in.ws),
		App:            in.app,
		Stats:          in.totals,
		Pprof:          cfg.Admin.Pprof,
		TrustedProxies: proxies,
		Logger:         in.log,
		Registry:       prometheus.NewRegistry(),
		MaxStreams:     handlers / 2, // event streams each hold a handler goroutine
	})
	if err != nil {
		return err
	}
	// Plain listeners and tls:// ones (HTTPS) are two servers of the same
	// web application.
	var plain, secure []endpoint.Addr
	for _, addr := range cfg.HTTP.Listen {
		if addr.Scheme == "tls" {
			secure = append(secure, addr)
		} else {
			plain = append(plain, addr)
		}
	}
	if len(plain) > 0 {
		if in.http, err = in.serveHTTP(env, in.web, plain, handlers, cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerIP, nil); err != nil {
			return err
		}
	}
	if len(secure) > 0 {
		store, err := tlsconn.NewStore(tlsSource(cfg.TLS, true))
		if err != nil {
			return err
		}
		if in.https, err = in.serveHTTP(env, in.web, secure, handlers, cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerIP, store.Config()); err != nil {
			return err
		}
	}
	if in.ws != nil { // WebSocket at /ws of both: ws:// and wss://
		t := wsTransport{ws: in.ws}
		for _, h := range []*httpd.Server{in.http, in.https} {
			if h != nil {
				t.http = append(t.http, h)
			}
		}
		in.srv.Attach(t)
	}
	if len(cfg.Admin.Listen) > 0 {
		// A few operators and scrapers: few handlers and connections.
		if in.admin, err = in.serveHTTP(env, in.web.Admin(), cfg.Admin.Listen, 64, 256, 0, nil); err != nil {
			return err
		}
	}
	return nil
}

// serveHTTP serves h with httpd on the listeners of addrs, with the [http]
// timeouts and sizes, over TLS when tc is set.
func (in *instance) serveHTTP(env *supervisor.Env, h http.Handler, addrs []endpoint.Addr, handlers, maxConns, perIP int, tc *tls.Config) (*httpd.Server, error) {
	cfg := in.cfg
	srv, err := httpd.New(httpd.Config{
		Handler:           h,
		ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(cfg.HTTP.ReadTimeout),
		WriteTimeout:      time.Duration(cfg.HTTP.WriteTimeout),
		IdleTimeout:       time.Duration(cfg.HTTP.IdleTimeout),
		MaxHeaderBytes:    int(cfg.HTTP.MaxHeaderBytes),
		MaxBodyBytes:      int64(cfg.HTTP.MaxBodyBytes),
		MaxConns:          maxConns,
		MaxConnsPerIP:     perIP,
		Handlers:          handlers,
		// The packet server's send-queue limits, for its WebSocket
		// connections (they ride on this engine).
		Engine: engine.Config{Kind: in.srv.Engine().Config().Kind, Loops: cfg.Server.Loops,
			MaxPendingPerConn: in.srv.Config().MaxPendingPerConn, MaxPendingTotal: in.srv.Config().MaxPendingTotal},
		TLS:    tc,
		Logger: in.log,
	})
	if err != nil {
		return nil, err
	}
	for _, addr := range addrs {
		ln, err := env.Listener(addr.String())
		if err != nil {
			srv.Close()
			return nil, err
		}
		if err := srv.AddListener(ln); err != nil {
			srv.Close()
			return nil, err
		}
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		return nil, err
	}
	return srv, nil
}

// totals is the web application's view of the server: the sum over every
// worker, through the master.
func (in *instance) totals(ctx context.Context) (web.Stats, error) {
	var sum workerStats
	if err := in.hub.Totals(ctx, &sum); err != nil {
		return web.Stats{}, err
	}
	return web.Stats(sum), nil
}

// Drain stops accepting, lets clients leave until ctx is done, then closes
// what is left and releases everything.
func (in *instance) Drain(ctx context.Context) error {
	var httpErr, httpsErr, adminErr error
	if in.http != nil {
		in.http.Engine().StopAccepting()
	}
	if in.https != nil {
		in.https.Engine().StopAccepting()
	}
	err := in.srv.Drain(ctx)
	if in.http != nil {
		httpErr = in.http.Shutdown(ctx)
	}
	if in.https != nil {
		httpsErr = in.https.Shutdown(ctx)
	}
	if in.admin != nil {
		in.web.Close() // the operators' live views would hold Shutdown
		adminErr = in.admin.Shutdown(ctx)
	}
	return errors.Join(err, httpErr, httpsErr, adminErr, in.release())
}

// Stop stops at once (requests in flight get until ctx).
func (in *instance) Stop(ctx context.Context) error {
	var httpErr, httpsErr, adminErr error
	if in.web != nil {
		in.web.Close() // ends event streams, so Shutdown need not wait for them
	}
	if in.http != nil {
		httpErr = in.http.Shutdown(ctx)
	}
	if in.https != nil {
		httpsErr = in.https.Shutdown(ctx)
	}
	if in.admin != nil {
		adminErr = in.admin.Shutdown(ctx)
	}
	err := in.srv.Shutdown(ctx)
	return errors.Join(err, httpErr, httpsErr, adminErr, in.release())
}

// Reopen reopens the worker's log file.
func (in *instance) Reopen() error {
	if in.lg == nil {
		return nil
	}
	return in.lg.Reopen()
}

func (in *instance) release() error {
	close(in.stop)
	<-in.done
	<-in.expired
	if in.web != nil {
		in.web.Close()
	}
	if in.node != nil {
		in.node.Close() // the other nodes drop this one's presence now
	}
	err := in.store.Close()
	if in.lg != nil {
		in.log.Info("wharfd: worker stopped")
		err = errors.Join(err, in.lg.Close())
	}
	return err
}

// Stats is the snapshot the master sums over workers: the packet
// server's, the HTTP server's and the chat application's, counting itself
// as one worker.
func (in *instance) Stats() supervisor.Stats {
	st := web.ServerStats(in.srv.Stats())
	cs := in.app.Stats()
	st.Chat = &cs
	hs := in.app.Hub().Stats()
	st.Channels = &hs
	if in.push != nil {
		ps := in.push.Stats()
		st.Push = &ps
	}
	for _, h := range []*httpd.Server{in.http, in.https} {
		if h == nil {
			continue
		}
		if st.HTTP == nil {
			st.HTTP = &httpd.Stats{}
		}
		st.HTTP.Add(h.Stats())
	}
	var ts tlsconn.Stats
	if in.tls != nil {
		ts.Add(in.tls.h.Stats())
	}
	if in.https != nil {
		hs, _ := in.https.TLSStats()
		ts.Add(hs)
	}
	if in.tls != nil || in.https != nil {
		st.TLS = &ts
	}
	st.Cluster = in.clusterStats()
	return (*workerStats)(&st)
}

// workerStats is web.Stats as the supervisor carries it from the workers
// to the master, which sums them (the JSON is web.Stats's).
type workerStats web.Stats

// newWorkerStats is the master's supervisor.Config.NewStats.
func newWorkerStats() supervisor.Stats { return new(workerStats) }

// Add implements supervisor.Stats.
func (s *workerStats) Add(o supervisor.Stats) {
	(*web.Stats)(s).Add(web.Stats(*o.(*workerStats)))
}

// describe says what the instance serves, for the startup log line.
func (in *instance) describe() string {
	var parts []string
	for _, a := range in.srv.Engine().Addrs() {
		parts = append(parts, "packets on "+a.Network()+" "+a.String())
	}
	for _, t := range in.kcps {
		parts = append(parts, "packets on kcp "+t.Addr().String()+" ("+string(t.Config().Mode)+")")
	}
	if in.tls != nil {
		for _, a := range in.tls.e.Addrs() {
			parts = append(parts, "packets on tls "+a.String())
		}
	}
	if in.http != nil {
		for _, a := range in.http.Engine().Addrs() {
			parts = append(parts, "http on "+a.Network()+" "+a.String())
		}
	}
	if in.https != nil {
		for _, a := range in.https.Engine().Addrs() {
			parts = append(parts, "https on "+a.String())
		}
	}
	if in.admin != nil {
		for _, a := range in.admin.Engine().Addrs() {
			parts = append(parts, "admin http on "+a.Network()+" "+a.String())
		}
	}
	parts = append(parts, "accounts in "+accounts.RedactURL(in.cfg.ResolvedDatabaseURL()),
		"channel history in "+in.cfg.ResolvedHistory())
	if in.push != nil {
		where := "admin"
		if in.admin == nil {
			where = "public"
		}
		parts = append(parts, "push API on the "+where+" http listener")
	}
	if c := in.describeCluster(); c != "" {
		parts = append(parts, c)
	}
	return strings.Join(parts, ", ")
}

// httpHandlerOrNil is ws as an http.Handler, or nil: a nil *websocket.Server
// in an interface would not be nil.
func httpHandlerOrNil(ws *websocket.Server) http.Handler {
	if ws == nil {
		return nil
	}
	return ws
}
