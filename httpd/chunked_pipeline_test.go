package httpd

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPipelinedStreamingResponses: flushed (chunked) responses to pipelined
// requests, finishing in any order (handlers sleep by request), come back
// whole and in order, on several connections at once. Responses that end
// before their turn are held and then written by the response before them;
// this once recycled a response while those writes were outstanding.
func TestPipelinedStreamingResponses(t *testing.T) {
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/r%d-", &n)
		time.Sleep(time.Duration(n%3) * 200 * time.Microsecond) // earlier requests may end later
		io.WriteString(w, "part one "+r.URL.Path+";")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
	})})
	var wg sync.WaitGroup
	for conn := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, br := rawConn(t, addr)
			for round := range 100 {
				var req strings.Builder
				for i := range 4 {
					fmt.Fprintf(&req, "GET /r%d-%d-%d HTTP/1.1\r\nHost: x\r\n\r\n", round*4+(3-i), conn, i)
				}
				c.Write([]byte(req.String()))
				for i := range 4 {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Errorf("conn %d round %d response %d: %v", conn, round, i, err)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					if want := fmt.Sprintf("part one /r%d-%d-%d;part two", round*4+(3-i), conn, i); string(b) != want {
						t.Errorf("conn %d round %d: got %q, want %q", conn, round, b, want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
