// Package chat is wharfd's built-in application: accounts (register, log
// in), a chat room, and channels with presence, history and recovery,
// direct messages and server-side publishing. The same App serves the
// packet protocol (on TCP, KCP and WebSocket alike) and the web app
// (package web), so an account made on one works on the others, and what
// is published on one reaches all of them. packet/SPEC.md sections 6 and 8
// specify the codes:
//
//	5  register     {"username", "password"}            -> {"ok", "user_id"}
//	6  login        {"username", "password"} | {"token"} -> {"ok", "user_id", "user", "name", "token", "expires", "channels"}
//	7  say          {"text"}                            -> {"ok"}; a publication to the lobby
//	8  message      push {"from", "text", "ts"}: lobby messages, to logged-in connections that use no channels
//	9  subscribe    {"channel", "join_leave", "recover", "offset", "epoch"} -> {"ok", "channel", "offset", "epoch", "recovered"}
//	10 unsubscribe  {"channel"}
//	11 publish      {"channel", "data"}                 -> {"ok", "channel", "offset", "epoch"}
//	12 publication  push {"channel", "offset", "epoch", "from", "ts", "data"}
//	13 join, 14 leave  push {"channel", "user"}
//	15 presence     {"channel"}                         -> {"ok", "channel", "members", "truncated"}
//	16 history      {"channel", "limit", "after"}       -> {"ok", "channel", "offset", "epoch", "publications", "more"}
//	17 send direct  {"user", "data"}                    -> {"ok"}
//	18 direct       push {"from", "ts", "data"}
//	19 session ended push {"reason": "expired" | "logged_out"}
//
// A body that is not the JSON object expected gets a code 1 error reply
// {"code": <code>, "error": "malformed JSON: ..."}; a rate limit a code 1
// refusal with "retry_after"; a channel request the rules refuse
// {"ok": false, "reason": "<token>", "error": "..."}.
//
// # Channels
//
// The channels themselves are package channels' Hub, which the App builds
// from Config.Channels with PacketEncoder, so a publication is encoded
// once, as a code 12 packet, and the same bytes go to every subscriber
// (server.Conn.SendEncoded; the web app's event streams cut the bodies
// out). A connection joins the Hub when it logs in (so direct messages to
// its user reach it) or, anonymous, at its first subscription, and leaves
// it when it closes or its login ends. The web app uses the same
// operations (Subscribe, PublishAs, Presence, History, SendDirectAs) with
// the same bodies, and the push API Publish and SendToUser.
//
// # Logins
//
// A login lasts as long as its session: an accounts session (24 h by
// default, from a password login on any transport, whose token also logs
// in another connection, {"token": ...}) or a JWT's exp (Config.JWT,
// package jwtauth: a backend's own users, without an account here). When
// it expires or is logged out (App.Logout, here or in another process
// through the Relay), the connection leaves its channels, is told with a
// code 19 push, and is anonymous again. A login (or its end) starts the
// connection's subscriptions over: the Hub knows a connection by its user.
//
// # The lobby
//
// The chat room of codes 7 and 8 is the lobby channel (Config.Lobby,
// "room:lobby"): say publishes {"text": ...} there, with history and
// presence like any room, and its text publications from anywhere are
// pushed with code 8 to the logged-in connections that never subscribed,
// so clients written for codes 5 to 8 work unchanged. A client that
// subscribes gets publications instead of code 8 messages.
//
// # Limits
//
// Logins are throttled against password guessing: failed attempts (and
// refused tokens) are limited per client address and per username
// (Config.FailuresPerIP, FailuresPerUser), and counted before the check,
// so a burst of parallel guesses cannot all be tried. Say and publish are
// limited per user and per address, and all of them together by a fan-out
// budget of deliveries a second (Config.MaxFanout).
package chat
