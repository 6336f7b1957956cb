package endpoint

import "strings"

// scheme is one row of the scheme table: everything Parse, String,
// Network and Secure need to know about a scheme. A new scheme is a new
// row; no code elsewhere in this package names a scheme.
type scheme struct {
	name    string // lower case, as written before "://"
	network string // for net.Listen and net.Dial: "tcp", "udp", "unix", ...
	family  byte   // 4 or 6 when the scheme pins the IP family (tcp4, udp6), else 0
	port    int    // the port implied when none is written; noPort: it must be written
	secure  bool   // TLS over network (tls, wss)
	path    string // for schemes carrying a request path (ws, wss): the one implied; "" for none
	file    bool   // the address is a socket path, not HOST:PORT (unix)
}

// noPort marks a scheme whose addresses must write their port.
const noPort = -1

// table lists every scheme, in the order error messages name them.
var table = []scheme{
	{name: "tcp", network: "tcp", port: noPort},
	{name: "tcp4", network: "tcp4", family: 4, port: noPort},
	{name: "tcp6", network: "tcp6", family: 6, port: noPort},
	{name: "unix", network: "unix", port: noPort, file: true},
	{name: "udp", network: "udp", port: noPort},
	{name: "udp4", network: "udp4", family: 4, port: noPort},
	{name: "udp6", network: "udp6", family: 6, port: noPort},
	{name: "kcp", network: "udp", port: noPort},
	{name: "tls", network: "tcp", port: noPort, secure: true},
	{name: "ws", network: "tcp", port: 80, path: "/ws"},
	{name: "wss", network: "tcp", port: 443, secure: true, path: "/ws"},
}

// lookup returns the row for name (lower case), or nil.
func lookup(name string) *scheme {
	for i := range table {
		if table[i].name == name {
			return &table[i]
		}
	}
	return nil
}

// Known lists every scheme Parse knows, in table order.
func Known() Schemes {
	out := make(Schemes, len(table))
	for i, s := range table {
		out[i] = s.name
	}
	return out
}

// Schemes is a set of schemes a caller accepts, such as the listeners of
// one protocol. The first is implied by an address written without a
// scheme: for Schemes{"udp", "udp4", "udp6"}, ":7001" means "udp://:7001".
// Every element must be a scheme of the table (see Known).
type Schemes []string

// Parse parses s like the package-level Parse with ss[0] implied, and
// rejects a scheme that is not in ss. An empty ss accepts every scheme and
// implies none.
func (ss Schemes) Parse(s string) (Addr, error) {
	if len(ss) == 0 {
		return Parse(s, "")
	}
	if name, _, ok := strings.Cut(s, "://"); ok && name != "" && !ss.has(strings.ToLower(name)) {
		return Addr{}, &Error{Input: s, Reason: "scheme must be " + ss.String()}
	}
	return Parse(s, ss[0])
}

func (ss Schemes) has(name string) bool {
	for _, s := range ss {
		if s == name {
			return true
		}
	}
	return false
}

// String lists ss for a message: "tcp", "tcp or unix", "tcp, tcp4 or unix".
func (ss Schemes) String() string {
	if len(ss) <= 1 {
		return strings.Join(ss, "")
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " or " + ss[len(ss)-1]
}
