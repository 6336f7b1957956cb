package httpd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// sseLike streams an event every 50ms for 20 events (1s), setting a write
// deadline before each when extend is set, as web's event stream does.
func sseLike(extend bool, done chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			if extend {
				if err = rc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
					break
				}
			}
			if _, err = fmt.Fprintf(w, "data: %d\n\n", i); err == nil {
				err = rc.Flush()
			}
			if err == nil {
				select {
				case <-time.After(50 * time.Millisecond):
				case <-r.Context().Done():
					err = r.Context().Err()
				}
			}
		}
		done <- err
	})
}

// readEvents counts the events a client gets before the stream ends.
func readEvents(t *testing.T, addr string) (events int, complete bool) {
	c, br := rawConn(t, addr)
	c.Write([]byte("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	return events, sc.Err() == nil
}

func TestWriteDeadlineExtendsStream(t *testing.T) {
	done := make(chan error, 1)
	_, addr := startServer(t, Config{WriteTimeout: 300 * time.Millisecond, Handler: sseLike(true, done)})
	if n, complete := readEvents(t, addr); n != 20 || !complete {
		t.Fatalf("got %d events (complete=%v), want all 20: a stream that extends its deadline outlives WriteTimeout", n, complete)
	}
	if err := <-done; err != nil {
		t.Fatalf("handler: %v", err)
	}
}

func TestStreamWithoutDeadlineCutAtWriteTimeout(t *testing.T) {
	done := make(chan error, 1)
	s, addr := startServer(t, Config{WriteTimeout: 300 * time.Millisecond, Handler: sseLike(false, done)})
	n, _ := readEvents(t, addr)
	if n >= 20 || n == 0 {
		t.Fatalf("got %d events, want the stream cut at WriteTimeout (about 6)", n)
	}
	if err := <-done; err == nil {
		t.Fatal("the handler of a cut stream saw no error")
	}
	if s.Stats().Timeouts != 1 {
		t.Fatalf("Timeouts = %d, want 1", s.Stats().Timeouts)
	}
}

// A write deadline still cuts a client that stops reading.
func TestWriteDeadlineCutsStalledReader(t *testing.T) {
	werr := make(chan error, 1)
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		chunk := make([]byte, 64<<10)
		for {
			rc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := w.Write(chunk); err != nil {
				werr <- err
				return
			}
		}
	})})
	c, _ := rawConn(t, addr)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // and never read
	select {
	case err := <-werr:
		if err == nil {
			t.Fatal("nil error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a handler writing to a client that does not read was not stopped by its write deadline")
	}
}

// A write past a deadline that passed while nothing was pending fails
// with os.ErrDeadlineExceeded.
func TestWriteAfterDeadline(t *testing.T) {
	werr := make(chan error, 1)
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		time.Sleep(50 * time.Millisecond)
		_, err := io.WriteString(w, "late")
		werr <- err
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err := <-werr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write after the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Fatal("got a response although its write failed")
	}
}

// SetReadDeadline bounds a body Read; ReadTimeout no longer applies once
// the handler set its own.
func TestReadDeadline(t *testing.T) {
	rerr := make(chan error, 1)
	_, addr := startServer(t, Config{ReadTimeout: 200 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.URL.Path == "/long" {
			rc.SetReadDeadline(time.Time{}) // a long upload: no ReadTimeout
			b, err := io.ReadAll(r.Body)
			if err != nil {
				rerr <- err
				return
			}
			w.Write(b)
			rerr <- nil
			return
		}
		rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := io.ReadAll(r.Body)
		rerr <- err
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"))
	if err := <-rerr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("body Read past SetReadDeadline: %v, want os.ErrDeadlineExceeded", err)
	}
	c2, br2 := rawConn(t, addr)
	c2.Write([]byte("POST /long HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc"))
	time.Sleep(400 * time.Millisecond) // past ReadTimeout
	c2.Write([]byte("def"))
	if err := <-rerr; err != nil {
		t.Fatalf("long upload: %v", err)
	}
	if _, body := readResponse(t, br2, "POST"); body != "abcdef" {
		t.Fatalf("long upload echoed %q", body)
	}
	_ = br
}
