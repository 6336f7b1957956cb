// Package web is wharfd's web application (SPEC §5): a page to register,
// log in and chat in rooms and direct messages, a live dashboard of the
// server, a JSON API, the server-side push API, health and Prometheus
// metrics. It is one http.Handler, plain net/http code: wharfd runs it on
// httpd (HTTP on wharf's engine), and any net/http server runs it as well.
//
// The web app is one more transport of the chat application (package
// chat): the same accounts as the packet protocol over TCP, KCP and
// WebSocket, and the same channels. A live view (/api/events) is a
// connection of the channels Hub like a packet connection: what is
// published on a channel reaches both, and a message said on the page
// reaches the lobby's clients of code 8 too.
//
// # Using it
//
//	h, err := web.New(web.Config{App: app, Stats: stats})
//	// handle err
//	srv := &http.Server{Addr: ":8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
//	srv.RegisterOnShutdown(h.Close) // live views end, so Shutdown need not wait for them
//	err = srv.ListenAndServe()
//
// Close ends the live event streams, which would otherwise keep a graceful
// shutdown waiting, and stops the statistics goroutine New starts.
//
// # Routes
//
//	GET  /                 the page (HTML; works without JavaScript)
//	POST /register, /login, /logout, /say   the page's forms (303 back to /)
//	POST /api/register     {"username","password"} -> {"ok":true,"user_id":N}; 400 invalid, 409 taken
//	POST /api/login        {"username","password"} -> {"ok":true,"user_id":N,"username":"..."} and the
//	                       session cookie; 401 wrong credentials, 429 throttled (with Retry-After)
//	POST /api/logout       -> {"ok":true}; ends the session and clears the cookie
//	GET  /api/me           -> {"ok":true,"user_id":N,"username":"..."}; 401 when not logged in
//	POST /api/say          {"text"} -> {"ok":true}; 401 when not logged in, 400 for bad text
//	GET  /api/messages     -> {"messages":[{"from","text","ts"},...]}: the lobby's history, oldest first; needs a login
//	GET  /api/events       Server-Sent Events: the live view (below); ?channels=a,b subscribes at once
//	POST /api/channels/subscribe, unsubscribe, publish, direct, presence, history
//	                       the bodies and replies of packet codes 9 to 17 (below)
//	GET  /api/names?ids=1,2  -> {"ok":true,"names":{"1":"alice",...}}; needs a login
//	POST /api/channels/ticket  -> {"ok":true,"token","expires"}: a token derived from the session, for the
//	                       page's packet connection over WebSocket (/ws, with Config.WebSocket)
//	POST /api/publish, /api/broadcast  the push API, with Config.Push (below)
//	GET  /api/stats        -> the Config.Stats object; 404 without Stats, 503 when it fails
//	GET  /healthz          200 "ok" while the account database answers a ping, else 503
//	GET  /metrics          Prometheus text format
//	GET  /debug/pprof/     runtime profiles, only with Config.Pprof
//	GET  /static/...       the page's script, style sheet and icon, embedded in the binary
//
// Every refusal of the API is JSON, {"ok":false,"error":"..."}, with a
// status that says what happened: 400 bad input, 401 not logged in or
// wrong password, 403 cross-origin, 404 unknown path, 405 wrong method
// (with Allow), 409 name taken, 413 body over 64 KiB, 429 throttled, 500
// internal (the cause goes to the log, not to the client), 503 overloaded
// or shutting down. The error texts are written for people and never
// quote a password. Messages need a login, as on the packet protocol,
// where only logged-in connections receive them.
//
// # The page
//
// The page is rendered on the server and works without JavaScript: its
// forms post to /register, /login, /logout and /say, which answer 303 See
// Other back to the page (so reloading never posts twice) with the outcome
// in a short-lived cookie shown once. static/app.js then takes over the
// same markup: forms are sent to the JSON API without reloading, messages
// and statistics arrive over /api/events, and the dashboard draws live
// charts of connections, packets and bytes per second, queue depths and
// kicks (rates are computed in the browser from the counters). There is no
// build step and nothing is loaded from elsewhere, so the page works
// offline. It is made for keyboards and screen readers (labels, a skip
// link, visible focus, an aria-live chat log) and for phones (one column
// below 980 px), in light and dark themes.
//
// # Sessions and security
//
// A login sets the cookie wharf_session to the accounts session token:
// HttpOnly (scripts cannot read it), SameSite=Lax, Path=/, Secure when the
// request came over TLS or a trusted proxy says X-Forwarded-Proto: https,
// and lasting the session's lifetime (accounts Config.SessionTTL). The
// database stores only the token's SHA-256, never the token.
//
// State-changing requests pass http.CrossOriginProtection: a POST a
// browser marks as cross-site (Sec-Fetch-Site, or an Origin that is not
// this host) is refused with 403, so another site cannot make a visitor's
// browser log in, log out or chat. Requests without those headers (curl,
// programs) are not browser requests and pass. Config.TrustedOrigins
// admits named other origins.
//
// Failed logins are throttled by chat.App per client address and per
// username. The client address is the peer's, or, when the peer is in
// Config.TrustedProxies, the right-most X-Forwarded-For hop that is not a
// trusted proxy: hops further left were written by the client and would
// let it pick its own throttling bucket.
//
// Every response carries a Content-Security-Policy that allows scripts,
// styles and connections from this origin only (the page has no inline
// script, style or event handler), X-Content-Type-Options: nosniff,
// X-Frame-Options: DENY and Referrer-Policy: same-origin; over HTTPS also
// Strict-Transport-Security. Request bodies are limited to 64 KiB.
// Nothing is logged with a password or a token in it.
//
// # Live events
//
// GET /api/events is a Server-Sent Events stream:
//
//	event: hello        {"user": {"user_id":N,"username":"..."} | null, "stats": true|false,
//	                     "stream": "<id>", "lobby": "room:lobby"}
//	event: subscribe    the reply to each channel of ?channels= (a code 9 reply)
//	event: publication  a code 12 body: {"channel","offset","epoch","from","ts","data"}
//	event: join, leave  code 13 and 14 bodies: {"channel","user"}
//	event: direct       a code 18 body: {"from","ts","data"}, a direct message to the user
//	event: stats        the Config.Stats object  every Config.StatsInterval (1s)
//	event: logout       {}                       the session ended; the stream closes
//	: ping                                       every Config.Heartbeat (15s)
//
// A stream is a channels.Subscriber of the App's Hub, for the session's
// user (anonymous without a session): direct messages to the user reach
// every stream of theirs, and POST /api/channels/subscribe with the
// hello's "stream" subscribes it (only from the stream's own session).
// The Hub hands every subscriber the same encoded packets; the stream cuts
// the JSON bodies out of them without copying. Recovery works as over the
// packet protocol: subscribe with "recover", "offset" and "epoch", and the
// missed publications come down the stream. One goroutine calls
// Config.Stats (only while someone watches) and encodes each stats event
// once for all streams. A stream whose queue passes 1 MiB is closed
// instead of holding memory or silently losing messages: the browser
// reconnects and the page subscribes again with recovery, which fills the
// gap. At each heartbeat a logged-in stream checks
// its session again, so a logout elsewhere or an expiry ends it; a logout
// through this Handler ends the session's streams at once. Each write has a
// 10 s deadline, so a client that stops reading frees its goroutine.
// Config.MaxStreams (1000) bounds the open streams; the server running the
// Handler must allow long-lived responses and support http.Flusher (through
// http.ResponseController), as net/http and httpd do.
//
// # Channels
//
// The page's channel requests are POSTs of the packet protocol's JSON
// bodies (packet/SPEC.md section 8), acting for the session's user:
//
//	POST /api/channels/subscribe    {"stream","channel","join_leave","recover","offset","epoch"}
//	POST /api/channels/unsubscribe  {"stream","channel"}
//	POST /api/channels/publish      {"channel","data"}
//	POST /api/channels/direct       {"user","data"}
//	POST /api/channels/presence     {"channel"}
//	POST /api/channels/history      {"channel","limit","after"}
//
// Replies are the packet protocol's; a refusal keeps its reason with a
// status: 400 invalid_name, bad_user, no_history, no_presence,
// no_join_leave; 403 permission_denied; 404 unknown_namespace (and
// no_stream); 409 already_subscribed, not_subscribed, channel_full,
// too_many_channels; 413 too_large; 503 unavailable. Publications and
// direct messages are rate limited like the packet protocol's (429 with
// Retry-After). static/app.js keeps all of this behind one object, its
// live channel: with Config.WebSocket a logged-in page speaks the packet
// protocol itself over /ws (codes 9 to 19, logged in with a ticket), and
// Server-Sent Events and these POSTs otherwise; nothing else in the page
// knows which.
//
// # The push API
//
// PushAPI is the application backend's way in: POST /api/publish
// ({"channel" or "user", "data"}) and POST /api/broadcast ({"channels",
// "data"}), authenticated with API keys ("Authorization: apikey KEY" or
// "Bearer KEY"), bounded in body size (413), channels per broadcast and
// requests per key (429 with Retry-After), and counted in Stats.Push and
// /metrics. Answers report the connections reached in this process. It is
// an http.Handler of its own, for an admin listener, and Config.Push
// serves it on the Handler too.
//
// # Statistics
//
// Config.Stats returns a Stats: the packet server's server.Stats (totals,
// kicks by reason, the handler latency histogram, and an engine.Stats per
// transport in Transports: "tcp", "kcp", ...), the HTTP server's
// httpd.Stats when it runs on httpd, the chat application's chat.Stats
// (refusals by its rate limits) when the caller reports them, and the
// number of worker processes summed up. /api/stats and the live view send it as JSON, with the names
// of the struct tags:
//
//	{"workers": 2,
//	 "server": {"online": 3, "accepted": 10, "packets_in": 100, ..., "kicks": {"idle": 1, "flood": 0, ...},
//	            "handler_latency": {"bounds": [0.0001, ...], "counts": [cumulative..., all], "sum_ns": N, "count": N},
//	            "transports": {"tcp": {"kind": "reactor", "loops": 2, "open": 2, "closed_by": {"peer": 5, ...}, ...},
//	                           "kcp": {...}}},
//	 "http": {"requests": 12, "by_status": {"200": 11, "404": 1}, ..., "engine": {...}},
//	 "chat": {"refused_register": 0, "refused_say_user": 2, ...},
//	 "channels": {"channels": 3, "subscriptions": 12, "publications": 40, "deliveries": 310, ...},
//	 "push": {"requests": 5, "publications": 5, "deliveries": 20, "rate_limited": 0, ...},
//	 "cluster": {"connected": 1, "nodes": 3, "published": 40, "received": 80, "refused": 0, ..., "lag": {histogram},
//	             "node_list": [{"name": "web-1", "incarnation": "9f3c...", "self": true, "connections": 1200,
//	                            "presence": 350, "synced": true, "started": "...", "last_seen": "..."}, ...]}}
//
// Stats.Add sums the Stats of several servers; ServerStats makes the Stats
// of one packet server.
//
// # Metrics
//
// /metrics serves Config.Registry in the Prometheus text format. New
// registers a collector that calls Config.Stats at each scrape and maps
// every number of Stats to a metric (statmetrics.go is the table; a test
// fails for a field without one):
//
//   - the packet server: wharf_workers, wharf_connections,
//     wharf_connections_max, wharf_connections_accepted_total,
//     wharf_connection_slots, wharf_connection_slots_free, wharf_timers,
//     wharf_queue_depth{queue}, wharf_handlers_busy,
//     wharf_packets_total{direction}, wharf_bytes_total{direction},
//     wharf_bad_checksums_total, wharf_requests_overloaded_total,
//     wharf_packets_dropped_total, wharf_requests_unknown_total,
//     wharf_handler_panics_total, wharf_kicks_total{reason},
//     wharf_kick_logs_suppressed_total and the histogram
//     wharf_handler_latency_seconds;
//   - every engine, labelled transport="tcp", "kcp", ... for the packet
//     server's transports and transport="http" for the HTTP server's:
//     wharf_engine_connections, wharf_engine_loops{kind},
//     wharf_engine_closed_total{reason}, wharf_engine_read_bytes_total and
//     the rest of engine.Stats as wharf_engine_*;
//   - the HTTP server, when present: wharf_httpd_requests_total,
//     wharf_httpd_responses_total{code}, wharf_httpd_active_requests and
//     the rest of httpd.Stats as wharf_httpd_*;
//   - the chat application, when present: wharf_chat_refused_total{limit},
//     wharf_chat_hash_busy_total, wharf_chat_packet_sessions_ended_total
//     and wharf_chat_token_logins_total{kind};
//   - the channels Hub, when present: wharf_channels,
//     wharf_channels_clients, wharf_channels_users,
//     wharf_channels_subscriptions, wharf_channels_members,
//     wharf_channels_messages_total{kind}, wharf_channels_deliveries_total,
//     wharf_channels_drops_total{reason},
//     wharf_channels_recoveries_total{outcome},
//     wharf_channels_denied_total and wharf_channels_errors_total{part};
//   - the push API, when present: wharf_push_requests_total,
//     wharf_push_publications_total, wharf_push_deliveries_total and
//     wharf_push_refused_total{reason};
//   - the cluster, when wharfd is a cluster node (package cluster; per
//     node, summed over its workers): wharf_cluster_connected,
//     wharf_cluster_nodes, wharf_cluster_messages_total{direction}
//     (published, received), wharf_cluster_refused_total,
//     wharf_cluster_dropped_total, wharf_cluster_malformed_total,
//     wharf_cluster_reconnects_total, wharf_cluster_disconnects_total,
//     wharf_cluster_nodes_lost_total, wharf_cluster_presence_syncs_total,
//     the histogram wharf_cluster_lag_seconds, and per node seen
//     wharf_cluster_node_connections{node,incarnation} and
//     wharf_cluster_node_presence{node,incarnation}.
//
// The HTTP middleware adds wharf_http_requests_total{code,method}, the
// histogram wharf_http_request_duration_seconds (event streams excluded)
// and the gauge wharf_http_streams, and the Go runtime and process
// collectors are registered too.
//
// # Goroutines
//
// ServeHTTP may be called from any number of goroutines. With
// Config.Stats, New starts one goroutine for statistics; Close stops it and
// returns when it has stopped. Every event stream runs
// in the goroutine of its request and ends when the client leaves
// (r.Context()), its session ends, or Close is called.
package web
