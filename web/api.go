package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"wharf/accounts"
	"wharf/channels"
	"wharf/chat"
)

// statsTimeout bounds one call of Config.Stats.
const statsTimeout = 5 * time.Second

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sayRequest struct {
	Text string `json:"text"`
}

// failure is every JSON refusal: {"ok":false,"error":"..."}.
type failure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

type success struct {
	OK bool `json:"ok"`
}

type userReply struct {
	OK       bool   `json:"ok"`
	UserID   int64  `json:"user_id"`
	Username string `json:"username,omitempty"`
}

type messagesReply struct {
	Messages []chat.Message `json:"messages"`
}

// writeJSON answers v as JSON with status. API answers are never cached:
// they depend on the session.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Nothing sent here should fail to encode; if something does,
		// say so rather than send half an object.
		status, body = http.StatusInternalServerError, []byte(`{"ok":false,"error":"internal error"}`)
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// writeError answers err as a JSON refusal: an *apiError with its status,
// anything else as 500 "internal error".
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errInternal
	}
	if ae.retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.retry+time.Second-1)/time.Second)))
	}
	writeJSON(w, ae.status, failure{Error: ae.text})
}

// appError turns an error of chat or accounts into a refusal, logging the
// unexpected ones (what, the operation, goes into the log line).
func (h *Handler) appError(r *http.Request, what string, err error) *apiError {
	var ve *accounts.ValidationError
	var rl *chat.RateLimitError
	status := http.StatusInternalServerError
	var retry time.Duration
	switch {
	case errors.As(err, &ve), errors.Is(err, chat.ErrEmptyText), errors.Is(err, chat.ErrTextTooLong),
		errors.Is(err, chat.ErrBadText):
		status = http.StatusBadRequest
	case errors.Is(err, accounts.ErrUsernameTaken):
		status = http.StatusConflict
	case errors.Is(err, accounts.ErrInvalidCredentials), errors.Is(err, accounts.ErrInvalidToken),
		errors.Is(err, chat.ErrNotLoggedIn), errors.Is(err, chat.ErrSessionEnded):
		status = http.StatusUnauthorized
	case errors.As(err, &rl):
		status, retry = http.StatusTooManyRequests, rl.RetryAfter
	case errors.Is(err, channels.ErrHistory):
		status, retry = http.StatusServiceUnavailable, 5*time.Second
	case errors.Is(err, accounts.ErrBusy):
		status, retry = http.StatusServiceUnavailable, chat.BusyRetry
	}
	if status == http.StatusInternalServerError {
		if r.Context().Err() == nil {
			// accounts' errors never hold a password or a token.
			h.cfg.Logger.Error("web: "+what, "err", err)
		}
		return errInternal
	}
	return &apiError{status: status, text: chat.UserMessage(err), retry: retry}
}

// decodeJSON reads the request body, at most maxBody bytes, into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONLimit(w, r, v, maxBody)
}

// decodeJSONLimit reads the request body, at most limit bytes, into v.
func decodeJSONLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return errTrailingData
	}
	return nil
}

// jsonError describes a decoding failure without quoting the input, which
// may hold a password.
func jsonError(err error) *apiError {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, text: fmt.Sprintf("request body too large (at most %d bytes)", mbe.Limit)}
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &apiError{status: http.StatusBadRequest, text: "malformed JSON: unexpected end of body"}
	case errors.As(err, &se):
		return &apiError{status: http.StatusBadRequest, text: fmt.Sprintf("malformed JSON: syntax error at byte %d", se.Offset)}
	case errors.As(err, &te) && te.Field != "":
		return &apiError{status: http.StatusBadRequest, text: fmt.Sprintf("malformed JSON: field %q must be a %s", te.Field, te.Type)}
	case errors.As(err, &te):
		return &apiError{status: http.StatusBadRequest, text: "malformed JSON: the body must be a JSON object"}
	}
	return &apiError{status: http.StatusBadRequest, text: "malformed JSON"}
}

func (h *Handler) apiRegister(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decodeJSON(w, r, &c); err != nil {
		writeError(w, err)
		return
	}
	u, err := h.app.Register(r.Context(), h.clientSource(r), c.Username, c.Password)
	if err != nil {
		writeError(w, h.appError(r, "register", err))
		return
	}
	writeJSON(w, http.StatusOK, userReply{OK: true, UserID: u.ID})
}

// login checks credentials and, on success, starts the browser's session:
// the cookie is set and a session the browser held before is ended, so
// logging in again does not leave a live token behind.
func (h *Handler) login(w http.ResponseWriter, r *http.Request, c credentials) (accounts.User, error) {
	u, token, err := h.app.Login(r.Context(), h.clientSource(r), c.Username, c.Password)
	if err != nil {
		return accounts.User{}, h.appError(r, "login", err)
	}
	if old := sessionToken(r); old != "" && old != token {
		h.endSession(r.Context(), old)
	}
	h.setSession(w, r, token)
	return u, nil
}

// endSession deletes the session of token and ends its live views.
func (h *Handler) endSession(ctx context.Context, token string) error {
	h.events.endSession(token)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.app.Logout(ctx, token); err != nil && !errors.Is(err, accounts.ErrInvalidToken) {
		return err
	}
	return nil
}

func (h *Handler) apiLogin(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decodeJSON(w, r, &c); err != nil {
		writeError(w, err)
		return
	}
	u, err := h.login(w, r, c)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, userReply{OK: true, UserID: u.ID, Username: u.Username})
}

// logout ends the request's session, if any, and clears the cookie. Logging
// out without a session succeeds: the caller's goal, being logged out, holds.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	if token := sessionToken(r); token != "" {
		if err := h.endSession(r.Context(), token); err != nil {
			return h.appError(r, "logout", err)
		}
	}
	h.clearSession(w, r)
	return nil
}

func (h *Handler) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := h.logout(w, r); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, success{OK: true})
}

// requireUser returns the logged-in user, or answers the refusal and
// returns ok false.
func (h *Handler) requireUser(w http.ResponseWriter, r *http.Request) (accounts.User, bool) {
	u, _, ok, err := h.user(w, r)
	switch {
	case err != nil:
		writeError(w, h.appError(r, "authenticate", err))
		return u, false
	case !ok:
		writeError(w, errNotLoggedIn)
		return u, false
	}
	return u, true
}

func (h *Handler) apiMe(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, userReply{OK: true, UserID: u.ID, Username: u.Username})
}

func (h *Handler) apiSay(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	var req sayRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if _, err := h.app.Say(r.Context(), h.clientSource(r), u, req.Text); err != nil {
		writeError(w, h.appError(r, "say", err))
		return
	}
	writeJSON(w, http.StatusOK, success{OK: true})
}

// apiMessages answers the recent history. Like the packet protocol, which
// pushes messages only to logged-in connections, it requires a login.
func (h *Handler) apiMessages(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.requireUser(w, r); !ok {
		return
	}
	msgs, err := h.app.LobbyHistory(r.Context())
	if err != nil {
		writeError(w, h.appError(r, "messages", err))
		return
	}
	if msgs == nil {
		msgs = []chat.Message{} // JSON gets []
	}
	writeJSON(w, http.StatusOK, messagesReply{Messages: msgs})
}

// stats calls Config.Stats with a deadline.
func (h *Handler) stats(ctx context.Context) (Stats, error) {
	if h.cfg.Stats == nil {
		return Stats{}, errNoStats
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	st, err := h.cfg.Stats(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			h.cfg.Logger.Warn("web: stats", "err", err)
		}
		return Stats{}, errStatsFailed
	}
	return st, nil
}

func (h *Handler) apiStats(w http.ResponseWriter, r *http.Request) {
	st, err := h.stats(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
