package client

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"wharf/packet"
)

// FuzzServerStream feeds arbitrary bytes from a server to a client with a
// request outstanding. Whatever the bytes, the request must return, the
// client must end when the server closes, and nothing may panic or leak.
func FuzzServerStream(f *testing.F) {
	enc := func(code uint16, body string) []byte {
		p, _ := packet.Encode(code, []byte(body))
		return p
	}
	cat := func(ps ...[]byte) []byte {
		var b []byte
		for _, p := range ps {
			b = append(b, p...)
		}
		return b
	}
	bad := enc(codeEcho, "x")
	bad[7] ^= 1
	f.Add(enc(codeEcho, "x"))
	f.Add(enc(packet.CodeError, `{"code":10,"error":"overloaded"}`))
	f.Add(enc(packet.CodeError, `{"code":0,"error":"server shutting down"}`))
	f.Add(enc(packet.CodeError, `{"code":`))
	f.Add(enc(packet.CodeError, `{"error":"no code"}`))
	f.Add(cat(enc(CodeMessage, `{"from":"a","text":"b","ts":1}`), enc(codeEcho, "x")))
	f.Add(cat(enc(packet.CodePing, ""), enc(codeEcho2, "push"), enc(codeEcho, "x")))
	f.Add(cat(bad, enc(codeEcho, "x")))
	f.Add(cat(bad, bad, bad))
	f.Add([]byte{0, 3, 0, 10, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0, 10, 0, 0, 0, 0})
	f.Add([]byte{0, 100, 0, 10})
	f.Fuzz(func(t *testing.T, stream []byte) {
		srv, cli := net.Pipe()
		var wg sync.WaitGroup
		wg.Go(func() { io.Copy(io.Discard, srv) })
		c, err := Dial(context.Background(), "pipe:0", Config{ // any valid address: the Dialer ignores it
			KeepAlive: -1,
			Dialer:    func(context.Context, string, string) (net.Conn, error) { return cli, nil },
			OnPush:    func(uint16, []byte) {},
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			srv.Write(stream)
			srv.Close()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Request(ctx, codeEcho, []byte("x")); err != nil && ctx.Err() != nil {
			t.Fatalf("request hung: %v", err)
		}
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("client did not end after the server closed")
		}
		c.Close()
		wg.Wait()
	})
}
