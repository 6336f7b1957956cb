package web

import (
	"net/http"
	"strconv"
	"strings"

	"wharf/accounts"
	"wharf/chat"
)

// The page's channel requests: the bodies and replies of packet codes 9
// to 17 (chat's request and reply types), as JSON over POST, acting for
// the session's user (anonymous without a session, where the namespace
// allows it). Subscriptions belong to an event stream, named by the
// "stream" of its hello event:
//
//	POST /api/channels/subscribe    {"stream", "channel", "join_leave", "recover", "offset", "epoch"}
//	POST /api/channels/unsubscribe  {"stream", "channel"}
//	POST /api/channels/publish      {"channel", "data"}
//	POST /api/channels/direct       {"user", "data"}
//	POST /api/channels/presence     {"channel"}
//	POST /api/channels/history      {"channel", "limit", "after"}
//	GET  /api/names?ids=1,2         {"ok": true, "names": {"1": "alice", ...}} (logged in)
//	POST /api/channels/ticket       {"ok": true, "token": "...", "expires": <unix ms>} (logged in):
//	                                a token for the packet protocol over WebSocket (code 6
//	                                {"token"}), derived from the session and ended with it
//
// A refusal keeps the packet protocol's body, {"ok": false, "reason",
// "error"}, with an HTTP status for its reason (reasonStatus); a rate
// limit is a 429 with Retry-After, as for say.

// reasonStatus is the HTTP status of a refusal by its reason.
var reasonStatus = map[string]int{
	"invalid_name":       http.StatusBadRequest,
	"bad_user":           http.StatusBadRequest,
	"bad_data":           http.StatusBadRequest,
	"no_history":         http.StatusBadRequest,
	"no_presence":        http.StatusBadRequest,
	"no_join_leave":      http.StatusBadRequest,
	"permission_denied":  http.StatusForbidden,
	"unknown_namespace":  http.StatusNotFound,
	"already_subscribed": http.StatusConflict,
	"not_subscribed":     http.StatusConflict,
	"channel_full":       http.StatusConflict,
	"too_many_channels":  http.StatusConflict,
	"too_large":          http.StatusRequestEntityTooLarge,
	"unavailable":        http.StatusServiceUnavailable,
	"internal":           http.StatusInternalServerError,
}

// statusOf is the HTTP status of a reply with reason (200 for none).
func statusOf(reason string) int {
	if reason == "" {
		return http.StatusOK
	}
	if st, ok := reasonStatus[reason]; ok {
		return st
	}
	return http.StatusBadRequest
}

func userID(u accounts.User) string { return strconv.FormatInt(u.ID, 10) }

// actor returns who the request acts for: the session's user, or
// anonymous. ok is false when the refusal has been answered (the
// database failed).
func (h *Handler) actor(w http.ResponseWriter, r *http.Request) (chat.Actor, bool) {
	u, _, loggedIn, err := h.user(w, r)
	if err != nil {
		writeError(w, h.appError(r, "authenticate", err))
		return chat.Actor{}, false
	}
	who := chat.Actor{Src: h.clientSource(r)}
	if loggedIn {
		who.User, who.Name = userID(u), u.Username
	}
	return who, true
}

// streamOf returns the stream a subscription request names, if the
// request comes from the stream's session; else it answers the refusal.
func (h *Handler) streamOf(w http.ResponseWriter, r *http.Request, id, channel string) (*stream, bool) {
	s := h.events.stream(id)
	if s == nil || s.token != sessionToken(r) {
		// Another session's stream is treated as no stream at all.
		writeJSON(w, http.StatusNotFound, chat.ChannelReply{Channel: channel, Reason: "no_stream",
			Error: "no such event stream: open /api/events and use its hello's stream"})
		return nil, false
	}
	return s, true
}

// streamRequest is a request about a stream's subscriptions: the stream,
// and the packet protocol's body.
type streamRequest struct {
	Stream string `json:"stream"`
	chat.SubscribeRequest
}

func (h *Handler) apiSubscribe(w http.ResponseWriter, r *http.Request) {
	h.serveStream(w, r, func(s *stream, q chat.SubscribeRequest) chat.ChannelReply {
		return h.app.Subscribe(r.Context(), s.client, q)
	})
}

func (h *Handler) apiUnsubscribe(w http.ResponseWriter, r *http.Request) {
	h.serveStream(w, r, func(s *stream, q chat.SubscribeRequest) chat.ChannelReply {
		return h.app.Unsubscribe(s.client, chat.ChannelRequest{Channel: q.Channel})
	})
}

// serveStream decodes a streamRequest and answers fn's reply on the
// stream it names.
func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request, fn func(*stream, chat.SubscribeRequest) chat.ChannelReply) {
	var req streamRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	s, ok := h.streamOf(w, r, req.Stream, req.Channel)
	if !ok {
		return
	}
	rep := fn(s, req.SubscribeRequest)
	writeJSON(w, statusOf(rep.Reason), rep)
}

// serveAs decodes a Q, acts for the request's user with fn, and answers
// its reply with the status of its reason; fn's error is a rate limit (or
// another failure of chat's), answered as appError says.
func serveAs[Q any](h *Handler, w http.ResponseWriter, r *http.Request, what string, fn func(who chat.Actor, q Q) (reply any, reason string, err error)) {
	var q Q
	if err := decodeJSON(w, r, &q); err != nil {
		writeError(w, err)
		return
	}
	who, ok := h.actor(w, r)
	if !ok {
		return
	}
	rep, reason, err := fn(who, q)
	if err != nil {
		writeError(w, h.appError(r, what, err))
		return
	}
	writeJSON(w, statusOf(reason), rep)
}

func (h *Handler) apiPublish(w http.ResponseWriter, r *http.Request) {
	serveAs(h, w, r, "publish", func(who chat.Actor, q chat.PublishRequest) (any, string, error) {
		rep, err := h.app.PublishAs(r.Context(), who, q)
		return rep, rep.Reason, err
	})
}

func (h *Handler) apiDirect(w http.ResponseWriter, r *http.Request) {
	serveAs(h, w, r, "direct", func(who chat.Actor, q chat.DirectRequest) (any, string, error) {
		rep, err := h.app.SendDirectAs(r.Context(), who, q)
		return rep, rep.Reason, err
	})
}

func (h *Handler) apiPresence(w http.ResponseWriter, r *http.Request) {
	serveAs(h, w, r, "presence", func(who chat.Actor, q chat.ChannelRequest) (any, string, error) {
		rep := h.app.Presence(r.Context(), who, q)
		return rep, rep.Reason, nil
	})
}

func (h *Handler) apiHistory(w http.ResponseWriter, r *http.Request) {
	serveAs(h, w, r, "history", func(who chat.Actor, q chat.HistoryRequest) (any, string, error) {
		rep := h.app.History(r.Context(), who, q)
		return rep, rep.Reason, nil
	})
}

type ticketReply struct {
	OK      bool   `json:"ok"`
	Token   string `json:"token"`
	Expires int64  `json:"expires"` // Unix ms
}

// apiTicket gives the page a token for its WebSocket connection: the page
// cannot read its cookie (HttpOnly), and the packet protocol over
// WebSocket logs in with a token (code 6). The token is a second session
// of the same login (chat.App.DeriveToken), which ends when the cookie's
// session ends or is logged out.
func (h *Handler) apiTicket(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.requireUser(w, r); !ok {
		return
	}
	token, expires, err := h.app.DeriveToken(r.Context(), sessionToken(r))
	if err != nil {
		writeError(w, h.appError(r, "ticket", err))
		return
	}
	writeJSON(w, http.StatusOK, ticketReply{OK: true, Token: token, Expires: expires.UnixMilli()})
}

type namesReply struct {
	OK    bool              `json:"ok"`
	Names map[string]string `json:"names"`
}

// apiNames answers the display names of user IDs, for the page to show
// publications and presence by name.
func (h *Handler) apiNames(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.requireUser(w, r); !ok {
		return
	}
	var ids []string
	for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) > chat.MaxNames {
		writeError(w, &apiError{status: http.StatusBadRequest, text: "at most " + strconv.Itoa(chat.MaxNames) + " ids at once"})
		return
	}
	writeJSON(w, http.StatusOK, namesReply{OK: true, Names: h.app.Names(r.Context(), ids)})
}
