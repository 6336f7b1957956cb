// Package websocket is wharf's WebSocket (RFC 6455) with permessage-deflate
// (RFC 7692), on the engine: frames are parsed on the connection's event
// loop straight from its inbound buffer and written into its outbound
// buffer, with no goroutine per connection and no allocation per message
// on the hot path. A client side (Dial) runs on the caller's goroutines.
//
// # Serving
//
// A Server holds a Config and a Handler. It is mounted on an httpd server
// in one of two ways, and either way the connection then lives on the
// engine:
//
//   - httpd's native API: call Server.ServeNative from a NativeHandler for
//     the endpoint's path (or use the Server itself as the NativeHandler).
//     The handshake is answered on the loop.
//   - a standard net/http handler on httpd's adapter: call Server.Upgrade
//     (or mount the Server, an http.Handler). The handler goroutine checks
//     the handshake, then httpd.Upgrade hands the connection back to its
//     loop and the handler returns.
//
// On the standard library's own server, Upgrade hijacks the connection and
// serves it with engine.Engine.ServeConn on a process-wide engine: a
// goroutine reads each such connection, and everything else (Handler,
// Conn, limits, close handshake) is the same.
//
// After the handshake the HTTP server forgets the connection: its
// engine.Conn's callbacks go to the WebSocket Conn (httpd.Protocol).
//
// # Goroutines
//
// Handler callbacks (OnOpen, OnMessage, OnClose, and OnPing, OnPong if
// implemented) run on the connection's event loop, one at a time per
// connection, and must not block. A message's data is valid until
// OnMessage returns.
//
// Conn's writes are safe from any goroutine: WriteMessage, WriteText,
// WriteBinary, Ping and Close queue the frame on the loop through
// engine.Conn.AsyncWrite, copying the payload (or compressing it) before
// they return, so they never block and the engine's limits apply: over
// engine.Config.MaxOutbound bytes or MaxPendingPerConn unsent messages the
// connection is closed as a slow reader (OnClose: 1006 with
// engine.ErrOutboundFull), over MaxPendingTotal a write is refused with
// engine.ErrOverloaded and the connection stays. LoopWrite is the loop-only
// fast path for replies: the frame is appended to the outbound buffer and
// goes out with the other writes of the same read in one system call.
//
// # Frames on the loop
//
// OnData peeks at the next frame header (at most 14 bytes). A frame that
// is complete in the buffer is checked, unmasked in place and, if it is a
// whole message, handed to OnMessage without a copy. A frame of 4 KiB or
// more that is not complete yet streams: its payload is consumed as it
// arrives, unmasked and appended to a pooled message buffer, so the
// engine's inbound buffer holds at most a small frame. Fragments are
// assembled in the same pooled buffer; control frames may come between
// them. Text is validated incrementally, fragment by fragment, so an
// invalid one fails the connection at once (1007). A frame or message over
// Config.MaxFrameSize or MaxMessageSize fails it with 1009, before its
// payload is buffered.
//
// # Memory
//
// An idle connection holds its engine connection (352 bytes, the engine's
// budget) and a 160-byte Conn (a stream connection also its
// engine.Layered, 144 bytes); no buffer of any kind. Message buffers and outgoing frames come from pools
// and go back when the message has been delivered or written; buffers
// that grew past 64 KiB are dropped instead of pooled. permessage-deflate
// costs nothing while idle unless Config.ContextTakeover is set (see
// Config and deflate.go for the numbers: about 1 MiB per connection for a
// kept compressor, 32 KiB for a kept client window).
//
// # Close handshake
//
// The peer's close frame is answered with its code, then the server closes
// the TCP connection. Close sends this side's frame and waits for the
// answer for Config.CloseTimeout. A protocol violation fails the
// connection: a close frame with the code (1002 framing, 1007 bad UTF-8 or
// corrupt compressed data, 1009 too big), then the TCP close without
// waiting. A TCP FIN or reset without a close frame, an idle timeout or a
// slow-reader kick is an abnormal close: OnClose gets a CloseError with
// StatusAbnormalClosure and the transport's error in Err. Close codes
// 1000-1003, 1007-1014 and 3000-4999 are accepted; others are refused
// with 1002.
//
// # Compression
//
// With Config.Compression the server accepts a client's permessage-deflate
// offer. By default it answers server_no_context_takeover and
// client_no_context_takeover (RFC 7692 lets a server require both), so
// every message is compressed alone with a pooled flate.Writer and no
// deflate state survives between messages. Messages under
// Config.CompressionThreshold go out uncompressed. compress/flate always
// uses a 32 KiB window: a client's client_max_window_bits needs nothing,
// and a client that asks for server_max_window_bits below 15 gets its
// offer accepted with the server sending uncompressed messages (it still
// decompresses the client's).
//
// # Byte streams
//
// NewStreamServer serves an engine.Handler written for byte streams
// (wharf's message server) over WebSocket, as engine.Layered connections
// with a WebSocket codec: binary message payloads are the inbound stream,
// and each of the handler's writes is one binary message. ConnOf and
// StreamOf find the WebSocket and stream views of an upgraded engine
// connection, for engine.Engine.Each. On the client side,
// ClientConn.NetConn is the matching net.Conn.
package websocket
