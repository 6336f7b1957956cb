package web

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"wharf/cluster"
	"wharf/server"
)

// TestSecurityHeaders: every response carries the headers that keep the
// page from being framed, sniffed or made to run foreign scripts.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	for _, path := range []string{"/", "/api/me", "/api/nope", "/healthz", "/metrics", "/nope", "/static/app.js"} {
		t.Run(path, func(t *testing.T) {
			resp := b.do("GET", path, nil, nil)
			resp.Body.Close()
			want := map[string]string{
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "same-origin",
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q allows unsafe sources", csp)
			}
			if resp.Header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS over plain HTTP")
			}
		})
	}
}

// TestPageHasNoInlineCode: the CSP forbids inline scripts, styles and event
// handlers, so the page must not need any.
func TestPageHasNoInlineCode(t *testing.T) {
	e := newEnv(t, envOptions{web: func(c *Config) {
		c.Stats = func(context.Context) (Stats, error) { return Stats{Server: server.Stats{Online: 1}}, nil }
	}})
	b := e.browser()
	b.login("ivan", "correct horse")
	b.call("POST", "/api/say", sayRequest{"hi"})
	for _, path := range []string{"/", "/nope"} {
		_, page := b.get(path)
		for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
			if !strings.Contains(m, ` src="`) {
				t.Errorf("%s: inline script %s", path, m)
			}
		}
		for _, bad := range []string{"<style", ` style="`, ` onclick=`, ` onload=`, ` onsubmit=`, "javascript:", "http://", "https://"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s: page contains %q", path, bad)
			}
		}
	}
}

// TestStaticFiles: assets are embedded, typed, and cacheable for good
// under their versioned URL.
func TestStaticFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := e.browser()
	_, page := b.get("/")
	urls := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(urls) < 3 {
		t.Fatalf("page links %d static files, want app.js, style.css and the icon", len(urls))
	}
	types := map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
	for _, u := range urls {
		path := strings.ReplaceAll(u[1], "&amp;", "&")
		resp := b.do("GET", path, nil, nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		ext := path[strings.LastIndexByte(strings.SplitN(path, "?", 2)[0], '.'):]
		ext = strings.SplitN(ext, "?", 2)[0]
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, types[ext]) {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: versioned URL not cached for good: %q", path, cc)
		}
		etag := resp.Header.Get("ETag")
		req, _ := http.NewRequest("GET", b.base+path, nil)
		req.Header.Set("If-None-Match", etag)
		resp2, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp2.Body.Close()
		if resp2.StatusCode != 304 {
			t.Errorf("%s with If-None-Match: %d, want 304", path, resp2.StatusCode)
		}
	}
	resp := b.do("GET", "/static/app.js", nil, nil)
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("unversioned URL: Cache-Control %q, want no-cache", cc)
	}
}

// TestPageDashboardSnapshot: without JavaScript the dashboard still shows
// the numbers of the moment.
func TestPageDashboardSnapshot(t *testing.T) {
	tests := []struct {
		name  string
		stats func(context.Context) (Stats, error)
		want  []string
	}{
		{name: "no stats", want: []string{"No statistics are available"}},
		{name: "stats", stats: func(context.Context) (Stats, error) {
			return Stats{Workers: 3, Server: server.Stats{Online: 1234567, BytesIn: 3 << 20, Kicks: server.KickCounts{server.KickFlood: 4, server.KickSlowReader: 2}}}, nil
		}, want: []string{
			`data-stat="server.online" data-kind="gauge"`, `<span class="v">1,234,567</span>`,
			`<span class="v">3.0 MiB</span>`, `<div data-kick="flood"><dt>Flood</dt><dd>4</dd>`, `<dt>Bad CRC</dt>`,
			`<div data-kick="slow_reader"><dt>Slow reader</dt><dd>2</dd>`,
			`data-stat="workers" data-kind="gauge"`,
		}},
		{name: "cluster", stats: func(context.Context) (Stats, error) {
			return Stats{Workers: 1, Cluster: &ClusterStats{Stats: cluster.Stats{Nodes: 2, Published: 9}, NodeList: []cluster.NodeInfo{
				{Name: "web-1", Incarnation: "1f", Self: true, Connections: 12, Synced: true, LastSeen: time.Now()},
				{Name: "web-2", Incarnation: "2e", Connections: -1, Presence: 3, LastSeen: time.Now()},
			}}}, nil
		}, want: []string{
			`data-stat="cluster.nodes" data-kind="gauge"`, `<span class="v">9</span>`,
			`<tr class="self"><td title="incarnation 1f">web-1 (here)</td><td>12</td><td>0</td><td>-</td><td>in sync</td></tr>`,
			`<td title="incarnation 2e">web-2</td><td>?</td><td>3</td>`, `<td>syncing</td>`,
		}},
		{name: "failing stats", stats: func(context.Context) (Stats, error) {
			return Stats{}, context.DeadlineExceeded
		}, want: []string{"server statistics are unavailable right now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{web: func(c *Config) { c.Stats = tt.stats }})
			if _, page := e.browser().get("/"); strings.Contains(page, `id="dashboard"`) {
				t.Fatal("the public page shows the dashboard")
			}
			st, page := e.operator().get("/")
			if st != 200 {
				t.Fatal(st)
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	counts := []struct {
		in   float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-1234, "-1,234"}, {1.5, "1.50"}}
	for _, c := range counts {
		if got := formatCount(c.in); got != c.want {
			t.Errorf("formatCount(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	sizes := []struct {
		in   float64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {3 << 20, "3.0 MiB"}, {1.5 * (1 << 30), "1.5 GiB"}}
	for _, c := range sizes {
		if got := formatBytes(c.in); got != c.want {
			t.Errorf("formatBytes(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
