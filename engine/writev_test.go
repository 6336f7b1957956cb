package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAsyncWritevWholeFromManyGoroutines sends multi-buffer messages from
// several goroutines at once: every message must reach the peer whole (its
// buffers never interleaved with another message's) and each goroutine's
// messages in the order it sent them.
func TestAsyncWritevWholeFromManyGoroutines(t *testing.T) {
	const writers, perWriter = 8, 300
	forEachKind(t, func(t *testing.T, k Kind) {
		h := newTH()
		_, nc, sc := startConn(t, Config{Kind: k}, h)

		var wg sync.WaitGroup
		for w := range writers {
			g := string(rune('a' + w))
			wg.Go(func() {
				for i := range perWriter {
					bufs := [][]byte{[]byte(g), fmt.Appendf(nil, "%06d", i), []byte(strings.Repeat(g, 20)), []byte("\n")}
					if err := sc.AsyncWritev(bufs, nil); err != nil {
						t.Errorf("AsyncWritev: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()

		line := regexp.MustCompile(`^([a-z])(\d{6})([a-z]{20})$`)
		next := map[string]int{}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(nc)
		for range writers * perWriter {
			s, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			m := line.FindStringSubmatch(strings.TrimSuffix(s, "\n"))
			if m == nil || m[3] != strings.Repeat(m[1], 20) {
				t.Fatalf("message %q is not whole", s)
			}
			seq, _ := strconv.Atoi(m[2])
			if seq != next[m[1]] {
				t.Fatalf("writer %s: message %d arrived, want %d", m[1], seq, next[m[1]])
			}
			next[m[1]]++
		}
	})
}

// TestAsyncWritevOverMaxOutbound: a message that does not fit MaxOutbound
// closes the connection with ErrOutboundFull and none of it is sent, though
// its first buffers alone would fit.
func TestAsyncWritevOverMaxOutbound(t *testing.T) {
	forEachKind(t, func(t *testing.T, k Kind) {
		h := newTH()
		_, nc, sc := startConn(t, Config{Kind: k, MaxOutbound: 1000}, h)

		done := make(chan error, 1)
		bufs := [][]byte{make([]byte, 600), make([]byte, 600)}
		if err := sc.AsyncWritev(bufs, func(_ Conn, err error) { done <- err }); err != nil {
			// The goroutine backend refuses at once.
			if !errors.Is(err, ErrOutboundFull) {
				t.Fatalf("AsyncWritev = %v, want nil or ErrOutboundFull", err)
			}
		} else if err := <-done; err == nil {
			t.Fatal("the message over MaxOutbound was reported written")
		}
		if ev := h.waitClose(t); !errors.Is(ev.err, ErrOutboundFull) {
			t.Fatalf("OnClose err = %v, want ErrOutboundFull", ev.err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(nc)
		if len(got) != 0 {
			t.Fatalf("peer received %d bytes of a message over MaxOutbound", len(got))
		}
	})
}
