package tlsconn

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"wharf/engine"
)

// BenchmarkEcho is one round trip of a Go crypto/tls client over a TLS
// connection to an echoing inner handler, on the reactor: a record
// decrypted on the loop, echoed, sealed and written. Allocations are the
// whole process's (client included).
func BenchmarkEcho(b *testing.B) {
	cert := thePKI(b).issue(b, certOpts{})
	for _, size := range []int{64, 1024, 16 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			h, err := NewHandler(Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Logger: slog.New(slog.DiscardHandler)}, newTH())
			if err != nil {
				b.Fatal(err)
			}
			e, err := engine.New(engine.Config{Loops: 1, Logger: slog.New(slog.DiscardHandler)}, h)
			if err != nil {
				b.Fatal(err)
			}
			a, _ := e.Listen("tcp://127.0.0.1:0")
			e.Start()
			defer func() {
				ctx, cancel := contextWithTimeout(5 * time.Second)
				defer cancel()
				e.Shutdown(ctx)
			}()
			c, err := tryDialTLS(a.String(), clientConfig(b))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg, got := bytes.Repeat([]byte("x"), size), make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c.Write(msg)
				if _, err := io.ReadFull(c, got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
