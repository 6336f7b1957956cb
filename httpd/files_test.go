package httpd

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileServer(t *testing.T) {
	root := t.TempDir()
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i % 251)
	}
	os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(root, "style.css"), []byte("body{}"), 0o644)
	os.WriteFile(filepath.Join(root, ".secret"), []byte("no"), 0o644)
	os.Mkdir(filepath.Join(root, "docs"), 0o755)
	os.WriteFile(filepath.Join(root, "docs", "index.html"), []byte("<h1>docs</h1>"), 0o644)
	os.Mkdir(filepath.Join(root, "empty"), 0o755)

	s, addr := startServer(t, Config{Handler: FileServer(root)})
	base := "http://" + addr
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		cl := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}

	resp, body := get("/style.css", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || string(body) != "body{}" {
		t.Fatalf("css: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if etag == "" || lm == "" {
		t.Fatalf("missing ETag (%q) or Last-Modified (%q)", etag, lm)
	}
	if resp, _ := get("/style.css", map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	if resp, _ := get("/style.css", map[string]string{"If-Modified-Since": lm}); resp.StatusCode != 304 {
		t.Fatalf("If-Modified-Since: %d, want 304", resp.StatusCode)
	}

	before := s.Stats().SendFiles
	resp, body = get("/big.bin", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Fatalf("big file: %d, %d bytes, equal=%v", resp.StatusCode, len(body), bytes.Equal(body, big))
	}
	if s.Stats().SendFiles != before+1 {
		t.Fatal("the big file was not sent with AsyncSendFile")
	}
	resp, body = get("/big.bin", map[string]string{"Range": "bytes=1000000-1999999"})
	if resp.StatusCode != 206 || !bytes.Equal(body, big[1000000:2000000]) || resp.Header.Get("Content-Range") != "bytes 1000000-1999999/3145728" {
		t.Fatalf("range: %d %d bytes %q", resp.StatusCode, len(body), resp.Header.Get("Content-Range"))
	}

	if resp, _ := get("/.secret", nil); resp.StatusCode != 404 {
		t.Fatalf("dotfile: %d, want 404", resp.StatusCode)
	}
	if resp, _ := get("/docs", nil); resp.StatusCode != 301 || resp.Header.Get("Location") != "/docs/" {
		t.Fatalf("dir without slash: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := get("/docs/", nil); resp.StatusCode != 200 || string(body) != "<h1>docs</h1>" {
		t.Fatalf("dir index: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get("/empty/", nil); resp.StatusCode != 404 {
		t.Fatalf("dir without index (no listing): %d", resp.StatusCode)
	}
	if resp, _ := get("/../../etc/passwd", nil); resp.StatusCode != 404 {
		t.Fatalf("path escape: %d", resp.StatusCode)
	}
	resp, err := http.Head(base + "/big.bin")
	if err != nil || resp.ContentLength != int64(len(big)) {
		t.Fatalf("HEAD: %v %d", err, resp.ContentLength)
	}
	resp.Body.Close()
	resp, err = http.Post(base+"/style.css", "text/plain", nil)
	if err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %v %d", err, resp.StatusCode)
	}
	resp.Body.Close()
}
