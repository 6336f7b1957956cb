package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"

	"wharf/httpd"
)

// The opening handshake (RFC 6455 §4).

// acceptGUID is the GUID the accept key is derived with (§1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// clientHello is what the server reads from a client's opening handshake,
// whichever API the request came through.
type clientHello struct {
	method      string
	http11      bool // HTTP/1.1 or later
	host        string
	upgrade     []string // Upgrade values
	connection  []string // Connection values
	version     string
	key         string
	origin      string
	protocols   []string // Sec-WebSocket-Protocol values
	extensions  []string // Sec-WebSocket-Extensions values
	versionSeen bool
}

// helloFromNative reads the handshake of a request served natively.
func helloFromNative(rc *httpd.RequestCtx) clientHello {
	h := clientHello{
		method:  string(rc.Method()),
		http11:  rc.ProtoMinor() >= 1,
		host:    string(rc.Host()),
		version: string(rc.Header("Sec-WebSocket-Version")),
		key:     string(rc.Header("Sec-WebSocket-Key")),
		origin:  string(rc.Header("Origin")),
	}
	h.versionSeen = rc.Header("Sec-WebSocket-Version") != nil
	collect := func(name string, dst *[]string) {
		rc.HeaderValues(name, func(v []byte) { *dst = append(*dst, string(v)) })
	}
	collect("Upgrade", &h.upgrade)
	collect("Connection", &h.connection)
	collect("Sec-WebSocket-Protocol", &h.protocols)
	collect("Sec-WebSocket-Extensions", &h.extensions)
	return h
}

// helloFromHTTP reads the handshake of a net/http request.
func helloFromHTTP(r *http.Request) clientHello {
	_, versionSeen := r.Header["Sec-Websocket-Version"]
	return clientHello{
		method:      r.Method,
		http11:      r.ProtoAtLeast(1, 1),
		host:        r.Host,
		upgrade:     r.Header["Upgrade"],
		connection:  r.Header["Connection"],
		version:     r.Header.Get("Sec-WebSocket-Version"),
		versionSeen: versionSeen,
		key:         r.Header.Get("Sec-WebSocket-Key"),
		origin:      r.Header.Get("Origin"),
		protocols:   r.Header["Sec-Websocket-Protocol"],
		extensions:  r.Header["Sec-Websocket-Extensions"],
	}
}

// negotiation is the server's answer to an acceptable handshake.
type negotiation struct {
	accept   string
	protocol string
	deflate  bool
	params   deflateParams
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
	case !hasToken(h.upgrade, "websocket"):
		return n, &refusal{http.StatusBadRequest, "websocket: missing Upgrade: websocket"}
	case !hasToken(h.connection, "upgrade"):
		return n, &refusal{http.StatusBadRequest, "websocket: missing Connection: Upgrade"}
	case h.version != "13":
		return n, &refusal{http.StatusUpgradeRequired, "websocket: unsupported Sec-WebSocket-Version (this server speaks 13)"}
	case !validKey(h.key):
		return n, &refusal{http.StatusBadRequest, "websocket: missing or malformed Sec-WebSocket-Key"}
	case !s.originAllowed(h.origin, h.host):
		return n, &refusal{http.StatusForbidden, "websocket: origin not allowed"}
	}
	n.protocol = s.chooseProtocol(h.protocols)
	if n.protocol == "" && s.cfg.RequireSubprotocol {
		return n, &refusal{http.StatusBadRequest, "websocket: no supported subprotocol offered (want " + strings.Join(s.cfg.Subprotocols, ", ") + ")"}
	}
	if s.cfg.Compression {
		parseExtensions(h.extensions, func(name string, params []extParam) {
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
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// chooseProtocol picks the server's most preferred subprotocol among the
// client's offers.
func (s *Server) chooseProtocol(offers []string) string {
	for _, want := range s.cfg.Subprotocols {
		for _, v := range offers {
			for _, p := range strings.Split(v, ",") {
				if strings.TrimSpace(p) == want {
					return want
				}
			}
		}
	}
	return ""
}

// originAllowed applies the origin policy (Config.CheckOrigin,
// Config.AllowedOrigins, or same-origin).
func (s *Server) originAllowed(origin, host string) bool {
	if s.cfg.CheckOrigin != nil {
		return s.cfg.CheckOrigin(origin, host)
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
func (n *negotiation) appendAccept(b []byte) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, n.accept...)
	b = append(b, "\r\n"...)
	if n.protocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, n.protocol...)
		b = append(b, "\r\n"...)
	}
	if n.deflate {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = n.params.appendResponse(b)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}
