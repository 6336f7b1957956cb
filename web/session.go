package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"wharf/accounts"
	"wharf/iplimit"
)

// The session cookie holds the accounts token itself: 256 random bits,
// opaque to the browser, of which the database keeps only a SHA-256 hash.
// HttpOnly keeps it from scripts (an XSS cannot steal it), SameSite=Lax
// keeps it off cross-site subrequests and POSTs (with
// CrossOriginProtection, the CSRF defence), Secure keeps it off plain HTTP
// when the page was reached over HTTPS.

// setSession sets the session cookie for token, lasting as long as the
// session does.
func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   int(h.ttl / time.Second),
		Expires:  h.cfg.Clock().Add(h.ttl),
		HttpOnly: true,
		Secure:   h.secure(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// clearSession tells the browser to drop the session cookie.
func (h *Handler) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Expires:  time.Unix(0, 0),
		HttpOnly: true,
		Secure:   h.secure(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// sessionToken returns the token the request presents, "" if none.
func sessionToken(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// user returns the logged-in user of r. ok is false without a valid
// session; err is set only when the database failed, in which case the
// caller answers 500 rather than treating the user as logged out. A request
// presenting a session that has ended gets its cookie cleared.
func (h *Handler) user(w http.ResponseWriter, r *http.Request) (u accounts.User, token string, ok bool, err error) {
	token = sessionToken(r)
	if token == "" {
		return accounts.User{}, "", false, nil
	}
	u, err = h.authenticate(r.Context(), token)
	switch {
	case errors.Is(err, accounts.ErrInvalidToken):
		h.clearSession(w, r)
		return accounts.User{}, "", false, nil
	case err != nil:
		return accounts.User{}, "", false, err
	}
	return u, token, true, nil
}

// authenticate looks token up, bounded in time so a stuck database cannot
// pile up requests forever.
func (h *Handler) authenticate(ctx context.Context, token string) (accounts.User, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return h.acc.Authenticate(ctx, token)
}

// peer returns the address of the other end of the connection.
func peer(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(r.RemoteAddr)
	if err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// isTrusted reports whether a is a trusted proxy.
func (h *Handler) isTrusted(a netip.Addr) bool {
	for _, p := range h.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP returns the client's address, for login throttling. It is the
// peer's address, unless the peer is a trusted proxy: then X-Forwarded-For
// is read from the right, where the trusted proxies appended what they saw,
// and the first hop that is not a trusted proxy is the client. Hops further
// left were written by the client and could be anything, so they are never
// used; a request that came through trusted proxies only is attributed to
// the left-most of them.
func (h *Handler) clientIP(r *http.Request) string {
	a, ok := peer(r)
	if !ok {
		// Not an IP (a Unix socket, a test): still a stable key.
		return r.RemoteAddr
	}
	if !h.isTrusted(a) {
		return a.String()
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			// A trusted proxy wrote something unreadable: the best
			// known address is the last proxy that was understood.
			break
		}
		a = hop
		if !h.isTrusted(hop) {
			break
		}
	}
	return a.String()
}

// clientSource is the rate-limit key of the request's client (clientIP):
// the zero Key, which is not limited per address, when it is not an IP.
func (h *Handler) clientSource(r *http.Request) iplimit.Key {
	a, err := netip.ParseAddr(h.clientIP(r))
	if err != nil {
		return iplimit.Key{}
	}
	return iplimit.KeyOf(a)
}

// forwardedFor returns the X-Forwarded-For hops, all headers joined in order.
func forwardedFor(hd http.Header) []string {
	var hops []string
	for _, v := range hd.Values("X-Forwarded-For") {
		for _, hop := range strings.Split(v, ",") {
			if hop = strings.TrimSpace(hop); hop != "" {
				hops = append(hops, hop)
			}
		}
	}
	return hops
}

// parseHop reads one X-Forwarded-For entry: an IP, possibly with a port or
// in brackets.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap(), true
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// secure reports whether the browser reached this page over HTTPS: the
// connection is TLS, or a trusted proxy says (X-Forwarded-Proto: https) that
// its client's connection was.
func (h *Handler) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	vals := r.Header.Values("X-Forwarded-Proto")
	if len(vals) == 0 {
		return false
	}
	a, ok := peer(r)
	if !ok || !h.isTrusted(a) {
		return false
	}
	// The nearest proxy's word counts: the right-most value.
	last := vals[len(vals)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}
