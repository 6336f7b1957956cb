package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"
	"unsafe"

	"wharf/httpd"
)

// The opening handshake (RFC 6455 §4).

// acceptGUID is the GUID the accept key is derived with (§1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key
// without allocating.
func acceptKey(key string) (out [28]byte) {
	var buf [64]byte
	b := append(append(buf[:0], key...), acceptGUID...)
	sum := sha1.Sum(b)
	base64.StdEncoding.Encode(out[:], sum[:])
	return out
}

// strList holds a header's values; the first few without allocating.
type strList struct {
	a    [4]string
	n    int
	more []string
}

func (l *strList) add(s string) {
	if l.n < len(l.a) {
		l.a[l.n] = s
		l.n++
		return
	}
	l.more = append(l.more, s)
}

// each calls fn for every value, in order.
func (l *strList) each(fn func(string) bool) bool {
	for _, s := range l.a[:l.n] {
		if fn(s) {
			return true
		}
	}
	for _, s := range l.more {
		if fn(s) {
			return true
		}
	}
	return false
}

// clientHello is what the server reads from a client's opening handshake,
// whichever API the request came through. For a native request its
// strings alias the request's bytes: it must not outlive ServeNative.
type clientHello struct {
	method      string
	http11      bool // HTTP/1.1 or later
	host        string
	version     string
	versionSeen bool
	key         string
	origin      string
	upgrade     strList // Upgrade values
	connection  strList // Connection values
	protocols   strList // Sec-WebSocket-Protocol values
	extensions  strList // Sec-WebSocket-Extensions values
}

// viewString is b as a string without a copy, for strings that do not
// outlive b.
func viewString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// readNative reads the handshake of a request served natively.
func (h *clientHello) readNative(rc *httpd.RequestCtx) {
	h.method = viewString(rc.Method())
	h.http11 = rc.ProtoMinor() >= 1
	h.host = viewString(rc.Host())
	v := rc.Header("Sec-WebSocket-Version")
	h.version, h.versionSeen = viewString(v), v != nil
	h.key = viewString(rc.Header("Sec-WebSocket-Key"))
	h.origin = viewString(rc.Header("Origin"))
	rc.HeaderValues("Upgrade", func(v []byte) { h.upgrade.add(viewString(v)) })
	rc.HeaderValues("Connection", func(v []byte) { h.connection.add(viewString(v)) })
	rc.HeaderValues("Sec-WebSocket-Protocol", func(v []byte) { h.protocols.add(viewString(v)) })
	rc.HeaderValues("Sec-WebSocket-Extensions", func(v []byte) { h.extensions.add(viewString(v)) })
}

// readHTTP reads the handshake of a net/http request.
func (h *clientHello) readHTTP(r *http.Request) {
	h.method, h.http11, h.host = r.Method, r.ProtoAtLeast(1, 1), r.Host
	vs, seen := r.Header["Sec-Websocket-Version"]
	if seen && len(vs) > 0 {
		h.version = vs[0]
	}
	h.versionSeen = seen
	h.key = r.Header.Get("Sec-WebSocket-Key")
	h.origin = r.Header.Get("Origin")
	for _, f := range []struct {
		key string
		dst *strList
	}{{"Upgrade", &h.upgrade}, {"Connection", &h.connection}, {"Sec-Websocket-Protocol", &h.protocols}, {"Sec-Websocket-Extensions", &h.extensions}} {
		for _, v := range r.Header[f.key] {
			f.dst.add(v)
		}
	}
}

// negotiation is the server's answer to an acceptable handshake.
type negotiation struct {
	accept  [28]byte
	proto   uint8 // 1 + the index of the chosen one of Config.Subprotocols; 0: none
	deflate bool
	params  deflateParams
}

// refusal is the HTTP response to a handshake the server refuses.
type refusal struct {
	status int
	reason string
}

// negotiate checks a client's handshake and chooses the subprotocol and
// extensions, or says why it refuses.
func (s *Server) negotiate(h *clientHello) (negotiation, *refusal) {
	var n negotiation
	switch {
	case h.method != http.MethodGet:
		return n, &refusal{http.StatusMethodNotAllowed, "websocket: the opening handshake must be a GET"}
	case !h.http11:
		return n, &refusal{http.StatusBadRequest, "websocket: the opening handshake needs HTTP/1.1"}
	case !hasToken(&h.upgrade, "websocket"):
		return n, &refusal{http.StatusBadRequest, "websocket: missing Upgrade: websocket"}
	case !hasToken(&h.connection, "upgrade"):
		return n, &refusal{http.StatusBadRequest, "websocket: missing Connection: Upgrade"}
	case h.version != "13":
		return n, &refusal{http.StatusUpgradeRequired, "websocket: unsupported Sec-WebSocket-Version (this server speaks 13)"}
	case !validKey(h.key):
		return n, &refusal{http.StatusBadRequest, "websocket: missing or malformed Sec-WebSocket-Key"}
	case !s.originAllowed(h.origin, h.host):
		return n, &refusal{http.StatusForbidden, "websocket: origin not allowed"}
	}
	n.proto = s.chooseProtocol(&h.protocols)
	if n.proto == 0 && s.cfg.RequireSubprotocol {
		return n, &refusal{http.StatusBadRequest, "websocket: no supported subprotocol offered (want " + strings.Join(s.cfg.Subprotocols, ", ") + ")"}
	}
	if s.cfg.Compression {
		parseExtensions(&h.extensions, func(name string, params []extParam) {
			if n.deflate || name != "permessage-deflate" {
				return
			}
			n.params, n.deflate = acceptDeflate(params, s.cfg.ContextTakeover)
		})
	}
	n.accept = acceptKey(h.key)
	return n, nil
}

// validKey reports whether k is the base64 of 16 bytes (§4.1).
func validKey(k string) bool {
	if len(k) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(k))
	return err == nil && n == 16
}

// hasToken reports whether a comma-separated header value holds token
// (without regard to case).
func hasToken(values *strList, token string) bool {
	return values.each(func(v string) bool {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
		return false
	})
}

// chooseProtocol picks the server's most preferred subprotocol among the
// client's offers: 1 + its index in Config.Subprotocols, 0 for none.
func (s *Server) chooseProtocol(offers *strList) uint8 {
	for i, want := range s.cfg.Subprotocols {
		if offers.each(func(v string) bool {
			for v != "" {
				var p string
				p, v, _ = strings.Cut(v, ",")
				if strings.TrimSpace(p) == want {
					return true
				}
			}
			return false
		}) {
			return uint8(i + 1)
		}
	}
	return 0
}

// originAllowed applies the origin policy (Config.CheckOrigin,
// Config.AllowedOrigins, or same-origin).
func (s *Server) originAllowed(origin, host string) bool {
	if s.cfg.CheckOrigin != nil {
		// Copies: for a native request the strings alias its bytes.
		return s.cfg.CheckOrigin(strings.Clone(origin), strings.Clone(host))
	}
	if origin == "" {
		return true // not a browser: the policy protects browser users
	}
	oh := originHost(origin)
	if len(s.cfg.AllowedOrigins) > 0 {
		for _, a := range s.cfg.AllowedOrigins {
			if a == "*" || strings.EqualFold(a, origin) || (oh != "" && strings.EqualFold(a, oh)) {
				return true
			}
		}
		return false
	}
	return oh != "" && strings.EqualFold(oh, host)
}

// originHost returns the host[:port] of an origin ("https://a.example:8443"
// -> "a.example:8443"), or "" for an opaque origin ("null").
func originHost(origin string) string {
	_, rest, ok := strings.Cut(origin, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// appendAccept appends the 101 response for an accepted handshake.
func (n *negotiation) appendAccept(b []byte, s *Server) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, n.accept[:]...)
	b = append(b, "\r\n"...)
	if n.proto != 0 {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, s.cfg.Subprotocols[n.proto-1]...)
		b = append(b, "\r\n"...)
	}
	if n.deflate {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = n.params.appendResponse(b)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}
