package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"wharf/iplimit"

	"wharf/server"
)

// serve runs one request through the Handler, as a server would.
func serve(b *testing.B, h http.Handler, method, path string, cookie *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	return rec
}

func benchEnv(b *testing.B) (*env, *http.Cookie) {
	e := newEnv(b, envOptions{web: func(c *Config) {
		c.Stats = func(context.Context) (Stats, error) {
			st := Stats{Workers: 1, Server: server.Stats{Online: 1000, PacketsIn: 123456}}
			st.Server.Kicks[server.KickIdle] = 3
			return st, nil
		}
	}})
	if _, err := e.acc.Register(context.Background(), "bench", "correct horse"); err != nil {
		b.Fatal(err)
	}
	_, token, err := e.acc.Login(context.Background(), "bench", "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	return e, &http.Cookie{Name: SessionCookie, Value: token}
}

// BenchmarkRoutes measures the Handler alone (no network) per route.
func BenchmarkRoutes(b *testing.B) {
	e, c := benchEnv(b)
	js, _ := assetURL("app.js")
	routes := []struct {
		name, path string
		cookie     *http.Cookie
	}{
		{"healthz", "/healthz", nil},
		{"static", js, nil},
		{"me", "/api/me", c},
		{"stats", "/api/stats", nil},
		{"page-anonymous", "/", nil},
		{"page-logged-in", "/", c},
		{"metrics", "/metrics", nil},
	}
	for _, r := range routes {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			rec := serve(b, e.h, "GET", r.path, r.cookie)
			b.SetBytes(int64(rec.Body.Len()))
			for b.Loop() {
				serve(b, e.h, "GET", r.path, r.cookie)
			}
		})
	}
}

// BenchmarkBroadcast measures the fan-out of one chat message to n live
// views (their buffers drained by the benchmark).
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e := newEnv(b, envOptions{web: func(c *Config) { c.MaxStreams = n }})
			hb := e.h.events
			streams := make([]*stream, n)
			for i := range streams {
				s, err := hb.join(fmt.Sprint("token", i), false, iplimit.Key{})
				if err != nil {
					b.Fatal(err)
				}
				streams[i] = s
			}
			ev := event{"message", []byte(`{"from":"alice","text":"hello","ts":1700000000000}`)}
			b.ReportAllocs()
			for b.Loop() {
				hb.broadcast(ev, true)
				for _, s := range streams {
					<-s.out
				}
			}
			for _, s := range streams {
				hb.leave(s)
			}
		})
	}
}
