package websocket

import (
	"io"
	"net"
	"testing"
)

// BenchmarkHandshake opens connections and completes the opening
// handshake; allocations per op are what a new connection costs the
// server (and the test's client) in garbage and live memory.
func BenchmarkHandshake(b *testing.B) {
	for _, m := range modes {
		b.Run(string(m), func(b *testing.B) {
			s := startWS(b, m, Config{}, HandlerFuncs{})
			req := []byte(hs("GET", "1.1", ""))
			resp := make([]byte, 129) // the 101 response's length
			conns := make([]net.Conn, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Write(req)
				if _, err := io.ReadFull(c, resp); err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
			}
			b.StopTimer()
			for _, c := range conns {
				c.Close()
			}
		})
	}
}
