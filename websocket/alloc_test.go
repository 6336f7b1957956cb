package websocket

import (
	"io"
	"testing"
	"time"
)

// TestReaderAllocs: the frame path of a small unfragmented message (parse,
// check, unmask, UTF-8) allocates nothing, and neither does a fragmented
// one once the message buffer pool is warm.
func TestReaderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	r := msgReader{server: true, lim: &limits{maxFrame: 1 << 20, maxMsg: 1 << 20}}
	whole := frameBytes(true, 0, 1, []byte("hello, wharf κόσμε"), true)
	frags := append(frameBytes(false, 0, 2, payloadOf(100), true), frameBytes(true, 0, 0, payloadOf(100), true)...)
	buf := make([]byte, 512)
	feed := func(b []byte) {
		for len(b) > 0 {
			h, res := parseFrameHeader(b)
			if res != parseOK {
				t.Fatal("short frame")
			}
			if err := r.check(&h); err != nil {
				t.Fatal(err)
			}
			n := int(h.hlen) + int(h.length)
			if _, err := r.frame(&h, b[h.hlen:n]); err != nil {
				t.Fatal(err)
			}
			r.release()
			b = b[n:]
		}
	}
	for _, tc := range []struct {
		name  string
		frame []byte
	}{{"whole text", whole}, {"two fragments", frags}} {
		if n := testing.AllocsPerRun(1000, func() {
			feed(buf[:copy(buf, tc.frame)]) // fresh masked bytes each time: frame unmasks in place
		}); n != 0 {
			t.Errorf("%s: %v allocations per message, want 0", tc.name, n)
		}
	}
}

// TestEchoAllocs: a whole echo round trip through the engine, the server's
// frame parsing and its reply (LoopWrite and WriteMessage) allocates
// nothing in the steady state. The client writes pre-built frames and reads
// into a fixed buffer, so every allocation counted is the server's.
func TestEchoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	for _, async := range []bool{false, true} {
		name := map[bool]string{false: "LoopWrite", true: "WriteMessage"}[async]
		t.Run(name, func(t *testing.T) {
			h := newEcho()
			h.async = async
			s := startWS(t, modeNative, Config{}, h)
			c := dialRaw(t, s.addr, "")
			c.nc.SetDeadline(time.Now().Add(30 * time.Second))
			for _, tc := range []struct {
				name  string
				frame []byte
				reply int // bytes of the echo
			}{
				{"binary 1 KiB", frameBytes(true, 0, 2, payloadOf(1024), true), 4 + 1024},
				{"text 100 B", frameBytes(true, 0, 1, payloadOf(100), true), 2 + 100},
				{"ping", frameBytes(true, 0, 9, payloadOf(20), true), 2 + 20},
			} {
				reply := make([]byte, tc.reply)
				roundTrip := func() {
					if _, err := c.nc.Write(tc.frame); err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(c.br, reply); err != nil {
						t.Fatal(err)
					}
				}
				for range 100 { // warm the pools
					roundTrip()
				}
				if n := testing.AllocsPerRun(2000, roundTrip); n != 0 {
					t.Errorf("%s: %v allocations per round trip, want 0", tc.name, n)
				}
			}
		})
	}
}
