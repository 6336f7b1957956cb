package httpd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"wharf/engine"
)

// The handler runs as soon as the head is in, and reads the body as it
// arrives: here it reads the first half before the client sends the
// second, which it does only once the handler has seen the first.
func TestBodyStreamedToHandler(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(map[bool]string{false: "content-length", true: "chunked"}[chunked], func(t *testing.T) {
			gotHalf := make(chan struct{})
			_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				half := make([]byte, 5)
				if _, err := io.ReadFull(r.Body, half); err != nil || string(half) != "hello" {
					t.Errorf("first half: %q %v", half, err)
				}
				close(gotHalf)
				rest, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("rest: %v", err)
				}
				fmt.Fprintf(w, "%s|%s", half, rest)
			})})
			c, br := rawConn(t, addr)
			if chunked {
				c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"))
			} else {
				c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello"))
			}
			select {
			case <-gotHalf:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler did not get the first half before the rest was sent: the body is buffered, not streamed")
			}
			if chunked {
				c.Write([]byte("5\r\nworld\r\n0\r\n\r\n"))
			} else {
				c.Write([]byte("world"))
			}
			if _, body := readResponse(t, br, "POST"); body != "hello|world" {
				t.Fatalf("got %q", body)
			}
		})
	}
}

// A handler that has not read its body holds at most bodyWindow bytes of
// it; reading it all gets every byte, in order.
func TestBodyWindowBounded(t *testing.T) {
	const size = 8 << 20
	sent := make(chan struct{})
	_, addr := startServer(t, Config{MaxBodyBytes: 16 << 20, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.Body.(*bodyPipe)
		select {
		case <-sent:
		case <-time.After(10 * time.Second):
		}
		p.mu.Lock()
		held := 0
		if p.buf != nil {
			held = len(*p.buf) - p.r
		}
		p.mu.Unlock()
		if held > bodyWindow {
			t.Errorf("%d body bytes held for a handler that read none, want <= %d", held, bodyWindow)
		}
		var n int64
		buf := make([]byte, 32<<10)
		for i := int64(0); ; {
			k, err := r.Body.Read(buf)
			for _, b := range buf[:k] {
				if b != byte('a'+i%26) {
					t.Errorf("byte %d is %q, want %q", i, b, byte('a'+i%26))
					return
				}
				i++
			}
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
		fmt.Fprint(w, n)
	})})
	c, br := rawConn(t, addr)
	body := make([]byte, size)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	c.Write(body[:4<<20]) // the engine buffers it (there is no pause of socket reads): the pipe must not
	close(sent)
	c.Write(body[4<<20:])
	if _, got := readResponse(t, br, "POST"); got != fmt.Sprint(size) {
		t.Fatalf("handler read %s bytes, want %d", got, size)
	}
}

// A handler that does not read its body: the server discards it and the
// connection serves the next request; a body too long to discard closes
// the connection after the response.
func TestUnreadBodyDiscarded(t *testing.T) {
	_, addr := startServer(t, Config{MaxBodyBytes: 4 << 20, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})})
	c, br := rawConn(t, addr)
	small := strings.Repeat("s", 100<<10)
	for i := range 3 {
		fmt.Fprintf(c, "POST /small%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", i, len(small))
		c.Write([]byte(small[:len(small)/2]))
		time.Sleep(10 * time.Millisecond) // the handler answers before the body is all sent
		c.Write([]byte(small[len(small)/2:]))
		resp, body := readResponse(t, br, "POST")
		if body != fmt.Sprintf("/small%d", i) || resp.Close {
			t.Fatalf("request %d: %q close=%v, want kept alive", i, body, resp.Close)
		}
	}
	// Chunked too.
	fmt.Fprintf(c, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n%s\r\n0\r\n\r\n", strings.Repeat("c", 0x1000))
	if _, body := readResponse(t, br, "POST"); body != "/chunked" {
		t.Fatalf("after an unread chunked body: %q", body)
	}
	c.Write([]byte("GET /after HTTP/1.1\r\nHost: x\r\n\r\n"))
	if _, body := readResponse(t, br, "GET"); body != "/after" {
		t.Fatalf("after discarded bodies: %q", body)
	}

	// Too much to discard: answered, then closed.
	c2, br2 := rawConn(t, addr)
	fmt.Fprintf(c2, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 3<<20)
	go c2.Write(bytes.Repeat([]byte("b"), 3<<20))
	resp, body := readResponse(t, br2, "POST")
	if body != "/big" || !resp.Close {
		t.Fatalf("big unread body: %q close=%v, want an answer with Connection: close", body, resp.Close)
	}
}

// 100 Continue is sent when the handler reads the body, not before; a
// handler that answers without reading gets no 100 and the connection
// closes (the client may never send the body).
func TestExpectContinueOnRead(t *testing.T) {
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("PUT /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"))
	resp, _ := readResponse(t, br, "PUT")
	if resp.StatusCode != 403 || !resp.Close {
		t.Fatalf("handler that does not read: %d close=%v, want 403 (no 100 Continue) and close", resp.StatusCode, resp.Close)
	}
}

// A chunked body over MaxBodyBytes: the handler's Read fails with
// *http.MaxBytesError after exactly the limit, and the server answers 413.
func TestChunkedBodyLimitWhileStreaming(t *testing.T) {
	readErr := make(chan error, 1)
	var got int64
	s, addr := startServer(t, Config{MaxBodyBytes: 100 << 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		got = n
		readErr <- err
		io.WriteString(w, "ignored the error") // the server's 413 replaces a response not yet sent
	})})
	c, br := rawConn(t, addr)
	c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
	go func() {
		chunk := fmt.Sprintf("2800\r\n%s\r\n", strings.Repeat("x", 0x2800)) // 10 KiB
		for range 20 {
			if _, err := c.Write([]byte(chunk)); err != nil {
				return
			}
		}
	}()
	err := <-readErr
	var mbe *http.MaxBytesError
	if !errors.As(err, &mbe) || got > 100<<10 {
		t.Fatalf("handler read %d bytes then %v, want <= 100 KiB then *http.MaxBytesError", got, err)
	}
	resp, _ := readResponse(t, br, "POST")
	if resp.StatusCode != 413 || !resp.Close {
		t.Fatalf("got %d close=%v, want 413 and close", resp.StatusCode, resp.Close)
	}
	if s.Stats().Rejected != 1 {
		t.Fatalf("Rejected = %d, want 1", s.Stats().Rejected)
	}
}

// A connection that received a big request keeps none of its buffers
// once the request is served.
func TestLargeRequestBuffersReleased(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		cfg.Engine = engine.Config{Loops: 1}
		s, addr := startServer(t, cfg)
		c, br := rawConn(t, addr)
		const size = 512 << 10
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nContent-Length: %d\r\n\r\n", strings.Repeat("h", 20<<10), size)
		for i := 0; i < size; i += 64 << 10 { // arrives over time
			c.Write(bytes.Repeat([]byte("b"), 64<<10))
			time.Sleep(time.Millisecond)
		}
		readResponse(t, br, "POST")
		var head, body int
		var pipe bool
		s.Engine().Each(func(ec engine.Conn) {
			if hc, ok := ec.Context().(*hconn); ok {
				head, body, pipe = cap(hc.headBuf), cap(hc.bodyBuf), hc.pipe != nil
			}
		})
		if head > keepHeadBuf || body > keepBodyBuf || pipe {
			t.Fatalf("idle connection keeps a %d-byte head buffer, a %d-byte body buffer, pipe %v", head, body, pipe)
		}
	})
}

// The body of the last request (Connection: close) still streams: the
// connection reads no request after it, but reads its body.
func TestStreamedBodyOfLastRequest(t *testing.T) {
	_, addr := startServer(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n, err)
	})})
	c, br := rawConn(t, addr)
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", 300<<10)
	time.Sleep(20 * time.Millisecond) // the head is dispatched alone; the body follows
	c.Write(bytes.Repeat([]byte("x"), 300<<10))
	if _, body := readResponse(t, br, "POST"); body != fmt.Sprint(300<<10, " <nil>") {
		t.Fatalf("got %q", body)
	}
}
