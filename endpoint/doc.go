// Package endpoint parses and prints wharf's addresses: what a listener
// binds and what a client dials, written as SCHEME://ADDRESS. It is the
// one address syntax of the config file, the engine, kcp, the supervisor
// and the client, and a leaf: it imports nothing of wharf.
//
//	tcp://127.0.0.1:7000    tcp://:7000 (every interface)    tcp6://[::1]:7000
//	unix:///run/wharf.sock  unix://run/wharf.sock (relative)
//	udp://:7001             kcp://server:7001
//	tls://:8443             ws://example.com/ws              wss://example.com:8443/ws
//
// # Schemes
//
// Each scheme is one row of a table (scheme.go), which says everything
// the package knows about it:
//
//	scheme  network  port     secure  path   notes
//	tcp     tcp      written  no      no
//	tcp4    tcp4     written  no      no     an IP host must be IPv4
//	tcp6    tcp6     written  no      no     an IP host must be IPv6
//	unix    unix     -        no      -      ADDRESS is the socket path (at most 107 bytes)
//	udp     udp      written  no      no
//	udp4    udp4     written  no      no     an IP host must be IPv4
//	udp6    udp6     written  no      no     an IP host must be IPv6
//	kcp     udp      written  no      no     the packet protocol over KCP
//	tls     tcp      written  yes     no     the packet protocol (or HTTPS) over TLS
//	ws      tcp      80       no      /ws    the packet protocol over WebSocket
//	wss     tcp      443      yes     /ws    the same over TLS
//
// "network" is what Addr.Network returns for net.Listen and net.Dial;
// schemes layered on a transport (tls, ws, wss, kcp) name the transport.
// "port" is the port implied when none is written; "written" means it must
// be. "path" is the request path implied for the schemes that carry one.
//
// # Syntax
//
// ADDRESS is HOST:PORT, then a path for ws and wss. HOST is a name
// (letters, digits, '-', '.', '_'), an IPv4 address, an IPv6 address in
// brackets with an optional zone ("[fe80::1%eth0]"), or empty for every
// interface. PORT is a decimal number from 0 to 65535; 0 lets the kernel
// pick when listening. Anything after the port is an error, except the
// path of ws and wss (no spaces, control characters or fragment). Schemes
// are case-insensitive and print in lower case; hosts and paths keep their
// case.
//
// An address written without a scheme takes the one the caller implies:
// the config implies tcp for [server] and [http] listen and udp for [kcp]
// listen, so "127.0.0.1:8080" and ":7001" are valid there. A Schemes value
// is such a set of accepted schemes, the first one implied.
//
// # Round trip
//
// Addr.String prints the canonical form, which Parse reads back to an
// equal Addr: the scheme always, the port unless it is the one the scheme
// implies, and the path of the schemes that carry one. A fuzz test holds
// Parse and String to this.
//
// # Errors
//
// Parse fails with an *Error holding the input and what is wrong with it,
// for callers (such as the config) that show both in their own words; its
// Error method reads
//
//	endpoint: "tcp://:70000": port "70000" is not a number from 0 to 65535
//
// Every *Error matches ErrInvalid.
//
// Everything in the package is safe for concurrent use: the table is
// read-only and Addr is a value.
package endpoint
