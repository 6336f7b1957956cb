package websocket

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"wharf/engine"
	"wharf/httpd"
	"wharf/internal/tlstest"
)

// TestWSS: WebSocket over HTTPS (wss://): httpd serves TLS through
// package tlsconn, and the WebSocket connection runs over the TLS
// connection, as messages and as a byte stream (a Layered connection over
// a Layered one), native and on the net/http adapter.
func TestWSS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream bool
		native bool
	}{
		{"native/messages", false, true},
		{"adapter/messages", false, false},
		{"native/stream", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ws *Server
			var err error
			if tc.stream {
				ws, err = NewStreamServer(Config{}, streamEcho{})
			} else {
				ws, err = NewServer(Config{}, newEcho())
			}
			if err != nil {
				t.Fatal(err)
			}
			hc := httpd.Config{TLS: tlstest.ServerConfig(), Engine: engine.Config{Loops: 1}}
			if tc.native {
				hc.Native = httpd.NativeFunc(ws.ServeNative)
			} else {
				hc.Handler = http.HandlerFunc(ws.ServeHTTP)
			}
			hs, addr := serveHTTPD(t, hc)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, "wss://"+addr+"/ws", &DialOptions{TLSConfig: &tls.Config{RootCAs: tlstest.Roots(), ServerName: "localhost"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			for _, msg := range [][]byte{[]byte("hello over wss"), bytes.Repeat([]byte("z"), 100<<10)} {
				if err := c.WriteMessage(MessageBinary, msg); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				var got []byte
				for len(got) < len(msg) { // a stream echo may come back in several messages
					_, p, err := c.ReadMessage()
					if err != nil {
						t.Fatalf("read after %d of %d bytes: %v", len(got), len(msg), err)
					}
					got = append(got, p...)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("echo of %d bytes differs", len(msg))
				}
			}
			if err := c.Close(StatusNormalClosure, "bye"); err != nil {
				t.Fatal(err)
			}
			if st, _ := hs.TLSStats(); st.Handshakes != 1 || st.Failed.Total() != 0 {
				t.Errorf("TLSStats = %+v", st)
			}
		})
	}
}

// TestWSSRootsOnly: a TLSConfig that sets only RootCAs verifies the URL's
// host, as crypto/tls.Dial does, rather than failing for want of a
// ServerName; a host the certificate does not name is refused.
func TestWSSRootsOnly(t *testing.T) {
	ws, err := NewServer(Config{}, newEcho())
	if err != nil {
		t.Fatal(err)
	}
	_, addr := serveHTTPD(t, httpd.Config{TLS: tlstest.ServerConfig(), Native: httpd.NativeFunc(ws.ServeNative), Engine: engine.Config{Loops: 1}})
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &DialOptions{TLSConfig: &tls.Config{RootCAs: tlstest.Roots()}}
	c, err := Dial(ctx, "wss://localhost:"+port+"/ws", opts)
	if err != nil {
		t.Fatalf("wss://localhost with RootCAs only: %v", err)
	}
	c.CloseNow()
	if opts.TLSConfig.ServerName != "" {
		t.Fatalf("Dial changed the caller's TLSConfig (ServerName %q)", opts.TLSConfig.ServerName)
	}
	// 127.0.0.2 reaches the same listener only if it is bound to every
	// address; the test's listener is on 127.0.0.1, so name a host the
	// certificate lacks through NetDial instead.
	opts.NetDial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	if c, err := Dial(ctx, "wss://wrong.example:"+port+"/ws", opts); err == nil {
		c.CloseNow()
		t.Fatal("a certificate for localhost was accepted for wrong.example")
	}
}
