// Package tlsconn serves TLS on any wharf engine: a Handler wrapper that
// turns a raw engine into a TLS listener, so that the message server,
// httpd and the web app run unchanged over TLS. The handshake and the
// record protection are the standard library's crypto/tls, used as it is.
//
//	store, err := tlsconn.NewStore(tlsconn.Source{Certs: []tlsconn.KeyPair{{Cert: "cert.pem", Key: "key.pem"}}})
//	h, err := tlsconn.NewHandler(tlsconn.Config{TLS: store.Config()}, inner)
//	e, err := engine.New(engine.Config{}, h) // inner now gets decrypted connections
//
// # Design
//
// A tls.Conn needs a net.Conn to read ciphertext from and write records
// to. Here that net.Conn (transport) belongs to the engine connection, and
// it behaves differently in the two lives of a connection.
//
// The handshake runs off the loop, on a goroutine of its own. crypto/tls's
// handshake cannot be resumed after a read error, so it needs a Read that
// blocks. The raw connection's OnData copies ciphertext into a
// mutex-guarded feed (at most 64 KiB; beyond it the bytes wait in the raw
// connection's buffer until the goroutine asks for them), and the
// handshake's Read blocks on that feed. Each flight the handshake writes
// goes to the raw connection with AsyncWrite. Nothing is spent on a
// connection before its first bytes: a goroutine and a tls.Conn are made
// only when they look like a TLS record (see below). The handshake is
// bounded by Config.HandshakeTimeout, set as the raw connection's
// deadline at accept: a client that stalls or trickles is cut then and
// counted, and its goroutine ends with the feed.
//
// Records go on the loop once the handshake is done. The handshake
// goroutine hands the connection to its loop with raw.Run and exits: no
// goroutine is left per connection. There the connection becomes an
// engine.Layered whose Codec is this package's. Decode (in the raw
// connection's OnData) calls tls.Conn.Read into the Layered connection's
// elastic buffer until crypto/tls runs out of input: transport.Read then
// hands it what the raw connection buffered and, once that is empty, an
// error that is a net.Error with Timeout and Temporary true. crypto/tls
// does not make such an error sticky (conn.go, readRecordOrCCS): it keeps
// the partial record in its input buffer and returns the error from Read,
// and the next OnData resumes. Bytes that arrived with the client's last
// handshake message (a first request) are read first.
//
// Writes go through the Codec's Encode, which calls tls.Conn.Write; every
// record it seals is copied into the write's engine.Wire (crypto/tls
// reuses its record buffer). Layered serialises Encode and hands each
// write's records to the raw connection in one AsyncWritev, so records
// reach the socket in the order they were sealed — the peer's decryption
// depends on it — whichever goroutine wrote. This is also why every write,
// a loop-side Write too, is an AsyncWritev. Several slices written
// together are gathered into one record when they fit. crypto/tls also
// seals records while it reads: an alert for a bad record, the answer to a
// TLS 1.3 KeyUpdate. Those wait in the connection's pending list, and
// Layered.Flush sends them, behind the writes sealed before them.
//
// Goodbye is close_notify. The Layered connection's Close seals one behind
// the queued writes; a close_notify from the peer is answered with ours
// and closes the connection like a TCP FIN (io.EOF), after the Handler got
// what arrived with it.
//
// # Client side
//
// With Config.Client the Handler is the dialing side: each connection of
// its engine starts a client handshake (tls.Client) at OnOpen, on the same
// goroutine-then-loop path, and the inner Handler gets OnOpen once the
// server is verified. A context set at Dial (engine.DialOptions.Context)
// becomes the Layered connection's. wharf-bench's -tls is built on it.
//
// # First bytes
//
// Before any goroutine or tls.Conn exists, the first bytes are
// classified: a TLS handshake (or alert) record header starts the
// handshake; an SSL 2.0 hello is refused (Failures.ProtocolVersion);
// anything else is plaintext sent to a TLS port (an HTTP request, a
// scanner): the connection is answered with Config.PlaintextReply if set
// (httpd's HTTP 400), closed with ErrNotTLS and counted. Nothing a client
// sends makes the server panic; failures are logged at most ten lines a
// second.
//
// # Buffers and memory
//
// Ciphertext lives in the raw connection's buffer (the loop's read buffer
// on the reactor, its elastic buffer if unconsumed) until crypto/tls
// copies it into its own input buffer and decrypts it there in place;
// tls.Conn.Read copies the plaintext into the Layered connection's elastic
// buffer, which the inner Handler reads with Peek/Next and which holds no
// memory once consumed. Outbound, crypto/tls seals into a pooled record
// buffer (it keeps none per connection) and the engine copies each record
// into a pooled Wire buffer, recycled once written. There is no bufio and
// no goroutine after the handshake.
//
// An idle TLS 1.3 connection (ECDSA P-256, after its handshake and one
// echo) costs about 7.1 KiB of heap (TestIdleMemory; net/http with
// crypto/tls costs about 30 KiB or more: a goroutine stack and bufio
// buffers on top of the same tls.Conn). Of that, crypto/tls keeps 5.6
// KiB we cannot release without forking it: its input buffer (rawInput,
// about 2 KiB, as large as the largest record read, the ClientHello with
// its post-quantum key share), its handshake buffer (about 1.5 KiB, the
// ClientHello), two AES-GCM states (about 1.75 KiB) and the Conn itself
// (about 0.9 KiB). wharf adds the engine connection (344 B), the Layered
// connection (140 B) and this package's state (128 B). A connection that
// once received a full 16 KiB record keeps an input buffer of about
// 17 KiB for the rest of its life: crypto/tls never shrinks it.
//
// # Certificates
//
// A Store holds the certificates (several, chosen by SNI with crypto/tls's
// own rule), the client CA pool for mutual TLS, the minimum version and
// ALPN, and swaps them atomically on Reload: new handshakes use the new
// set, established connections are untouched, and a Reload that fails
// (a missing file, a key that does not match) changes nothing and names
// the file. Its Config is the tls.Config to serve with. SelfSigned and
// WriteSelfSigned make a certificate for local use (wharfd -gen-cert).
//
// # Kernel TLS
//
// KernelTLS reports whether the kernel offers kTLS. wharf does not use it
// either way. kTLS needs the record keys and sequence numbers after the
// handshake, which crypto/tls does not expose; deriving them from its key
// log and tracking sequence numbers (the server's session tickets are
// records too) would duplicate crypto/tls's state machine outside it, and
// alerts, KeyUpdate and close_notify would then have to be handled twice,
// once per path. Until the userspace path can be kept equally correct with
// kTLS beside it, every connection uses crypto/tls in user space.
//
// # Goroutines
//
// The Handler's callbacks run on the raw connection's loop. The handshake
// goroutine runs from the first TLS bytes (a client: from OnOpen) until
// the handshake ends or the connection closes (Stats.Handshaking counts
// them); it touches the connection only through the feed (under its
// mutex), AsyncWrite and Run. Encode runs on the writer's goroutine under
// Layered's write lock; crypto/tls's own locks order it with Decode on the
// loop. ConnectionState may be called from any goroutine with the Conn an
// inner Handler was given (with the raw connection, only from its
// callbacks). Stats may be read from any goroutine.
package tlsconn
