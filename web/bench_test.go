package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"wharf/iplimit"

	"wharf/channels"
	"wharf/chat"
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

// BenchmarkPublishToStreams measures a publication to n live views
// subscribed to its channel (their queues drained by the benchmark).
func BenchmarkPublishToStreams(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e := newEnv(b, envOptions{web: func(c *Config) { c.MaxStreams = n }})
			hb := e.h.events
			room, _ := channels.ParseName("room:bench")
			streams := make([]*stream, n)
			for i := range streams {
				s, err := hb.join(fmt.Sprint("token", i), fmt.Sprint(i+1), iplimit.Key{})
				if err != nil {
					b.Fatal(err)
				}
				if rep := e.app.Subscribe(b.Context(), s.client, chat.SubscribeRequest{Channel: room.String()}); !rep.OK {
					b.Fatal(rep.Error)
				}
				streams[i] = s
			}
			data := []byte(`{"text":"hello"}`)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.app.Publish(b.Context(), room, data); err != nil {
					b.Fatal(err)
				}
				for _, s := range streams {
					s.take()
				}
			}
			for _, s := range streams {
				hb.leave(s)
			}
		})
	}
}
