package httpd

import (
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/nettest"
)

// TestHijackConnConformance runs golang.org/x/net/nettest's net.Conn suite
// over a hijacked connection: one end is what Hijack returned, the other a
// plain TCP client.
func TestHijackConnConformance(t *testing.T) {
	conns := make(chan net.Conn, 1)
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		if brw.Reader.Buffered() > 0 {
			t.Error("unexpected early bytes")
		}
		conns <- c
	})})
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		client, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, err := client.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			return nil, nil, nil, err
		}
		server := <-conns
		return server, client, func() { server.Close(); client.Close() }, nil
	})
}
