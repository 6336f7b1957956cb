package httpd_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"wharf/engine"
	"wharf/httpd"
)

// get fetches url without keeping the connection (examples leave no
// goroutines behind).
func get(url string) string {
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b)
}

// A standard net/http handler, here a ServeMux, on httpd: New, Listen,
// Start (or Serve, which blocks), then Shutdown.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s", r.PathValue("name"))
	})
	s, err := httpd.New(httpd.Config{Handler: mux, Engine: engine.Config{Loops: 1}})
	if err != nil {
		log.Fatal(err)
	}
	addr, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(get("http://" + addr.String() + "/hello/wharf"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(s.Shutdown(ctx))
	// Output:
	// 200 OK hello, wharf
	// <nil>
}

// The native API serves on the event loop, without a goroutine or an
// allocation per request. The handler must not block.
func ExampleNativeFunc() {
	s, _ := httpd.New(httpd.Config{
		Engine: engine.Config{Loops: 1},
		Native: httpd.NativeFunc(func(c *httpd.RequestCtx) {
			if string(c.Path()) != "/ping" {
				c.SetStatusCode(http.StatusNotFound)
				return
			}
			c.SetContentType("text/plain")
			c.SetHeader("Cache-Control", "no-store")
			c.WriteString("pong")
		}),
	})
	addr, _ := s.Listen("tcp://127.0.0.1:0")
	s.Start()
	defer s.Close()
	fmt.Println(get("http://" + addr.String() + "/ping"))
	// Output: 200 OK pong
}

// Request bodies are streamed to the handler as they arrive; a handler
// may read them at its own pace (here a line at a time) and need not read
// them at all.
func ExampleConfig_streamingBody() {
	s, _ := httpd.New(httpd.Config{
		Engine:       engine.Config{Loops: 1},
		MaxBodyBytes: 64 << 20, // uploads up to 64 MiB; the server holds at most 64 KiB of one at a time
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				return // too large or malformed: the server answers 413 or 400
			}
			fmt.Fprintf(w, "%d bytes", n)
		}),
	})
	addr, _ := s.Listen("tcp://127.0.0.1:0")
	s.Start()
	defer s.Close()
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Post("http://"+addr.String()+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 1<<20)))
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(b))
	// Output: 1048576 bytes
}

// An event stream that outlives WriteTimeout: it sets a write deadline
// before each write, so a client that stops reading is still cut off.
func ExampleConfig_eventStream() {
	s, _ := httpd.New(httpd.Config{
		Engine:       engine.Config{Loops: 1},
		WriteTimeout: 100 * time.Millisecond, // would cut the stream without SetWriteDeadline
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				rc.SetWriteDeadline(time.Now().Add(time.Second))
				fmt.Fprintf(w, "data: %d\n\n", i)
				if rc.Flush() != nil {
					return
				}
				time.Sleep(80 * time.Millisecond)
			}
		}),
	})
	addr, _ := s.Listen("tcp://127.0.0.1:0")
	s.Start()
	defer s.Close()
	fmt.Print(strings.ReplaceAll(get("http://"+addr.String()+"/events"), "\n\n", "\n"))
	// Output:
	// 200 OK data: 0
	// data: 1
	// data: 2
}

// Caps on connections: in total, and per source address (IPv6 by /64).
func ExampleConfig_connectionCaps() {
	s, _ := httpd.New(httpd.Config{
		Engine:        engine.Config{Loops: 1},
		MaxConns:      10000,
		MaxConnsPerIP: 100,
		Handler:       http.NotFoundHandler(),
	})
	defer s.Close()
	st := s.Stats()
	fmt.Println(st.RefusedConns, st.RefusedPerIP)
	// Output: 0 0
}

// FileServer serves a directory with sendfile, ETags, ranges and
// conditional requests.
func ExampleFileServer() {
	dir, _ := os.MkdirTemp("", "httpd-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>home</h1>"), 0o644)

	s, _ := httpd.New(httpd.Config{Engine: engine.Config{Loops: 1}, Handler: httpd.FileServer(dir)})
	addr, _ := s.Listen("tcp://127.0.0.1:0")
	s.Start()
	defer s.Close()
	fmt.Println(get("http://" + addr.String() + "/"))
	// Output: 200 OK <h1>home</h1>
}

// Shutdown lets requests in progress finish; Close cuts them.
func ExampleServer_Shutdown() {
	s, _ := httpd.New(httpd.Config{Engine: engine.Config{Loops: 1}, Handler: http.NotFoundHandler()})
	s.Listen("tcp://127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	time.Sleep(10 * time.Millisecond) // let Serve start (a real program would be signalled)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(s.Shutdown(ctx), <-done)
	// Output: <nil> httpd: server closed
}
