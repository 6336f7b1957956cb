package server

import (
	"bytes"
	"testing"
	"time"
)

// TestInboxRecords: requests and markers come out of an inbox as they went
// in, with their arrival times, and requests decoded together share one
// stored time.
func TestInboxRecords(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(time.Millisecond)
	big := bytes.Repeat([]byte("b"), 65527) // the largest body a packet can carry
	type rec struct {
		code   uint16
		marker bool
		at     time.Time
		body   []byte
	}
	in := []rec{
		{code: 5, at: t0, body: []byte("first")},
		{code: 6, at: t0, body: nil},
		{code: 7, marker: true, at: t0},
		{code: 8, at: t1, body: big},
		{code: 9, marker: true, at: t1},
		{code: 10, at: t1, body: []byte("last")},
	}
	var box inbox
	for _, r := range in {
		box.add(r.code, r.marker, r.at, r.body)
	}
	if len(box.times) != 2 {
		t.Errorf("stored %d times, want 2 (one per arrival)", len(box.times))
	}
	for i, want := range in {
		code, marker, at, body, ok := box.next()
		if !ok || code != want.code || marker != want.marker || !at.Equal(want.at) || !bytes.Equal(body, want.body) {
			t.Fatalf("record %d: got code %d marker %v at %v body %d bytes ok %v, want %+v",
				i, code, marker, at, len(body), ok, want)
		}
		if len(body) > 0 && cap(body) != len(body) {
			t.Fatalf("record %d: body has spare capacity %d: an append would overwrite the next record", i, cap(body)-len(body))
		}
	}
	if _, _, _, _, ok := box.next(); ok || !box.drained() {
		t.Fatal("records after the last")
	}
}

// TestIdleConnectionHoldsNoInbox: once its requests are served, a
// connection keeps neither a mailbox inbox nor the one a worker served.
func TestIdleConnectionHoldsNoInbox(t *testing.T) {
	_, rt := newApp()
	s, addr := startServer(t, Config{}, rt)
	c := dialClient(t, addr)
	pipeline(t, c, codeEcho, 40, func(i int) []byte { return []byte{byte(i)} })
	for range 40 {
		c.recv()
	}
	var sc *Conn
	s.Broadcast(codePushed, nil, func(x *Conn) bool { sc = x; return false })
	eventually(t, "turn over", func() bool {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return !sc.scheduled
	})
	sc.mu.Lock()
	in, cur := sc.in, sc.cur // cur is the worker's; it is done with it once scheduled is false
	sc.mu.Unlock()
	if in != nil || cur != nil {
		t.Fatalf("idle connection holds inboxes: in %v, cur %v", in != nil, cur != nil)
	}
}
