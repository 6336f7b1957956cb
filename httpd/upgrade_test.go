package httpd

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"wharf/engine"
)

// echoProto is a toy upgraded protocol: it echoes bytes upper-cased and
// reports its close and shutdown.
type echoProto struct {
	closed   chan error
	shutdown chan struct{}
}

func (p *echoProto) OnUpgrade(c engine.Conn) {}
func (p *echoProto) OnData(c engine.Conn) error {
	b, _ := c.Next(-1)
	_, err := c.Write([]byte(strings.ToUpper(string(b))))
	return err
}
func (p *echoProto) OnClose(c engine.Conn, err error) { p.closed <- err }
func (p *echoProto) OnShutdown(c engine.Conn)         { p.shutdown <- struct{}{}; c.Close() }

const switchResp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"

func TestUpgrade(t *testing.T) {
	for _, native := range []bool{true, false} {
		t.Run(map[bool]string{true: "native", false: "nethttp"}[native], func(t *testing.T) {
			p := &echoProto{closed: make(chan error, 1), shutdown: make(chan struct{}, 1)}
			var cfg Config
			if native {
				cfg.Native = NativeFunc(func(c *RequestCtx) {
					if c.ProtoMinor() != 1 {
						t.Error("ProtoMinor")
					}
					var vals []string
					c.HeaderValues("X-Multi", func(v []byte) { vals = append(vals, string(v)) })
					if strings.Join(vals, "|") != "a|b" {
						t.Errorf("HeaderValues %q", vals)
					}
					c.SetHeader("X-Ignored", "yes")
					c.Upgrade([]byte(switchResp), p)
				})
			} else {
				cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if err := Upgrade(w, []byte(switchResp), p); err != nil {
						t.Error(err)
					}
				})
			}
			s, addr := startServer(t, cfg)
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			// Bytes right behind the request belong to the new protocol.
			nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Multi: a\r\nX-Multi: b\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly"))
			br := bufio.NewReader(nc)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 || resp.Header.Get("X-Ignored") != "" {
				t.Fatalf("response %v %v", resp, err)
			}
			got := make([]byte, 5)
			if _, err := io.ReadFull(br, got); err != nil || string(got) != "EARLY" {
				t.Fatalf("early bytes: %q %v", got, err)
			}
			nc.Write([]byte("later"))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != "LATER" {
				t.Fatalf("later bytes: %q %v", got, err)
			}
			if s.Stats().Hijacked != 1 {
				t.Errorf("Hijacked %d, want 1", s.Stats().Hijacked)
			}
			// A graceful shutdown tells the protocol.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			go s.Shutdown(ctx)
			select {
			case <-p.shutdown:
			case <-time.After(10 * time.Second):
				t.Fatal("OnShutdown not called")
			}
			if err := <-p.closed; err != nil {
				t.Fatalf("OnClose(%v)", err)
			}
		})
	}
}

func TestUpgradeRefused(t *testing.T) {
	if err := Upgrade(httptestRecorder{}, nil, nil); err != ErrNotUpgradable {
		t.Fatalf("foreign ResponseWriter: %v", err)
	}
	errs := make(chan error, 1)
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("started"))
		w.(http.Flusher).Flush()
		errs <- Upgrade(w, []byte(switchResp), &echoProto{})
	})})
	nc, br := rawConn(t, addr)
	defer nc.Close()
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	http.ReadResponse(br, nil)
	if err := <-errs; err == nil {
		t.Fatal("Upgrade after the response started succeeded")
	}
}

type httptestRecorder struct{ http.ResponseWriter }
