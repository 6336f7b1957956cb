package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// The forms on the page post here (application/x-www-form-urlencoded) when
// the page runs without JavaScript. Each answers 303 See Other back to the
// page (post/redirect/get, so reloading never posts twice) and carries its
// outcome in a flash cookie that the next page view shows once and
// clears. With JavaScript the same forms are submitted to the JSON API
// instead, and the page never reloads.

// flashCookie holds the outcome of the last form post.
const flashCookie = "wharf_flash"

// flash is a message for the next page view.
type flash struct {
	Kind     string `json:"k"`           // "ok" or "error"
	Text     string `json:"t"`           // for the user
	Form     string `json:"f,omitempty"` // "login", "register" or "say": where the message belongs
	Username string `json:"u,omitempty"` // to fill the form in again; never a password
	Draft    string `json:"d,omitempty"` // the refused chat message, to edit
}

// maxDraft bounds flash.Draft, keeping the cookie under browsers' 4 KiB.
const maxDraft = 1500

func (h *Handler) setFlash(w http.ResponseWriter, r *http.Request, f flash) {
	if len(f.Draft) > maxDraft {
		f.Draft = truncateUTF8(f.Draft, maxDraft)
	}
	f.Username = truncateUTF8(f.Username, 64)
	b, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{
		Name:     flashCookie,
		Value:    base64.RawURLEncoding.EncodeToString(b),
		Path:     "/",
		MaxAge:   60,
		HttpOnly: true,
		Secure:   h.secure(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the pending flash message, if any, and clears it.
func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.secure(r), SameSite: http.SameSiteLaxMode,
	})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(b, &f) != nil || f.Text == "" {
		return nil
	}
	return &f
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// parseForm reads a form body of at most maxBody bytes, answering 413 or
// 400 itself on failure.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("413 request body too large (at most %d bytes)", mbe.Limit), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "400 malformed form", http.StatusBadRequest)
		}
		return false
	}
	return true
}

// back redirects to the page, at anchor.
func back(w http.ResponseWriter, r *http.Request, anchor string) {
	http.Redirect(w, r, "/"+anchor, http.StatusSeeOther)
}

func (h *Handler) formRegister(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	name := r.PostForm.Get("username")
	u, err := h.app.Register(r.Context(), h.clientSource(r), name, r.PostForm.Get("password"))
	if err != nil {
		h.setFlash(w, r, flash{Kind: "error", Text: h.appError(r, "register", err).text, Form: "register", Username: name})
		back(w, r, "#register")
		return
	}
	h.setFlash(w, r, flash{Kind: "ok", Text: "Account " + u.Username + " created. You can log in now.", Form: "login", Username: u.Username})
	back(w, r, "#login")
}

func (h *Handler) formLogin(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	c := credentials{Username: r.PostForm.Get("username"), Password: r.PostForm.Get("password")}
	if _, err := h.login(w, r, c); err != nil {
		var ae *apiError
		errors.As(err, &ae)
		h.setFlash(w, r, flash{Kind: "error", Text: ae.text, Form: "login", Username: c.Username})
		back(w, r, "#login")
		return
	}
	back(w, r, "#chat")
}

func (h *Handler) formLogout(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	if err := h.logout(w, r); err != nil {
		var ae *apiError
		errors.As(err, &ae)
		h.setFlash(w, r, flash{Kind: "error", Text: ae.text})
		back(w, r, "")
		return
	}
	h.setFlash(w, r, flash{Kind: "ok", Text: "You are logged out.", Form: "login"})
	back(w, r, "#login")
}

func (h *Handler) formSay(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	text := r.PostForm.Get("text")
	u, _, ok, err := h.user(w, r)
	switch {
	case err != nil:
		h.setFlash(w, r, flash{Kind: "error", Text: h.appError(r, "authenticate", err).text, Form: "say", Draft: text})
		back(w, r, "#chat")
		return
	case !ok:
		h.setFlash(w, r, flash{Kind: "error", Text: "Your session has ended. Log in again.", Form: "login"})
		back(w, r, "#login")
		return
	}
	if _, err := h.app.Say(r.Context(), h.clientSource(r), u, text); err != nil {
		h.setFlash(w, r, flash{Kind: "error", Text: h.appError(r, "say", err).text, Form: "say", Draft: text})
	}
	back(w, r, "#chat")
}
