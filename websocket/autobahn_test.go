package websocket

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"wharf/engine"
)

// The case groups of the Autobahn test suite (and the RFC 6455 rules they
// check), as table tests against the echo server, with a raw client that
// can send anything. Case numbers follow Autobahn's where a case maps to
// one of its.

// wsCase is one case: what the client does and expects.
type wsCase struct {
	name string
	cfg  Config
	run  func(c *rawClient)
}

// runCases runs every case on a fresh connection, in both serving modes.
func runCases(t *testing.T, cases []wsCase) {
	t.Helper()
	forEachMode(t, func(t *testing.T, m mode) {
		servers := map[string]*testServer{} // one per Config, for the whole group
		parent := t
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				key := fmtConfig(tc.cfg)
				s := servers[key]
				if s == nil {
					// Echoes of 4 MiB messages need more than the
					// engine's default 4 MiB outbound backlog.
					s = startWS(parent, m, tc.cfg, newEcho(), engine.Config{MaxOutbound: 32 << 20})
					servers[key] = s
				}
				tc.run(dialRaw(t, s.addr, ""))
			})
		}
	})
}

// fmtConfig keys servers by the fields cases vary.
func fmtConfig(c Config) string {
	return strings.Join([]string{itoa(int(c.MaxMessageSize)), itoa(int(c.MaxFrameSize))}, "/")
}

func itoa(n int) string { return strconv.Itoa(n) }

// chunked writes b in pieces of n bytes.
func (c *rawClient) chunked(b []byte, n int) {
	c.t.Helper()
	for len(b) > 0 {
		k := min(n, len(b))
		c.write(b[:k])
		b = b[k:]
	}
}

// alive checks the connection still works: a ping gets its pong.
func (c *rawClient) alive() {
	c.t.Helper()
	c.ping([]byte("alive?"))
	c.expect(10, []byte("alive?"))
}

// closeWith is a close frame's payload.
func closeWith(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func TestAutobahn1Framing(t *testing.T) {
	var cases []wsCase
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		cases = append(cases, wsCase{name: "1.1 text " + itoa(n), run: func(c *rawClient) {
			c.text(string(payloadOf(n)))
			c.expect(1, payloadOf(n))
		}}, wsCase{name: "1.2 binary " + itoa(n), run: func(c *rawClient) {
			c.binary(payloadOf(n))
			c.expect(2, payloadOf(n))
		}})
	}
	cases = append(cases,
		wsCase{name: "1.1.8 text 65536 in chunks of 997", run: func(c *rawClient) {
			c.chunked(frameBytes(true, 0, 1, payloadOf(65536), true), 997)
			c.expect(1, payloadOf(65536))
		}},
		wsCase{name: "1.2.8 binary 65536 in chunks of 997", run: func(c *rawClient) {
			c.chunked(frameBytes(true, 0, 2, payloadOf(65536), true), 997)
			c.expect(2, payloadOf(65536))
		}},
		wsCase{name: "many frames in one write", run: func(c *rawClient) {
			var all []byte
			for i := range 100 {
				all = append(all, frameBytes(true, 0, 2, payloadOf(i), true)...)
			}
			c.write(all)
			for i := range 100 {
				c.expect(2, payloadOf(i))
			}
		}},
		wsCase{name: "header split byte by byte", run: func(c *rawClient) {
			c.chunked(frameBytes(true, 0, 2, payloadOf(300), true), 1)
			c.expect(2, payloadOf(300))
		}},
		wsCase{name: "unmasked client frame", run: func(c *rawClient) {
			c.write(frameBytes(true, 0, 1, []byte("hi"), false))
			c.expectClose(1002)
		}},
		wsCase{name: "64-bit length with the top bit set", run: func(c *rawClient) {
			c.write([]byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})
			c.expectClose(1002)
		}},
	)
	runCases(t, cases)
}

func TestAutobahn2PingPong(t *testing.T) {
	runCases(t, []wsCase{
		{name: "2.1 ping without payload", run: func(c *rawClient) {
			c.ping(nil)
			c.expect(10, []byte{})
		}},
		{name: "2.2 ping with text payload", run: func(c *rawClient) {
			c.ping([]byte("Hello, world!"))
			c.expect(10, []byte("Hello, world!"))
		}},
		{name: "2.3 ping with binary payload", run: func(c *rawClient) {
			c.ping([]byte{0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff})
			c.expect(10, []byte{0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff})
		}},
		{name: "2.4 ping with 125 bytes", run: func(c *rawClient) {
			c.ping(payloadOf(125))
			c.expect(10, payloadOf(125))
		}},
		{name: "2.5 ping with 126 bytes", run: func(c *rawClient) {
			c.ping(payloadOf(126))
			c.expectClose(1002)
		}},
		{name: "2.6 ping with 125 bytes, one byte at a time", run: func(c *rawClient) {
			c.chunked(frameBytes(true, 0, 9, payloadOf(125), true), 1)
			c.expect(10, payloadOf(125))
		}},
		{name: "2.7 unsolicited pong without payload", run: func(c *rawClient) {
			c.send(true, 0, 10, nil)
			c.alive()
		}},
		{name: "2.8 unsolicited pong with payload", run: func(c *rawClient) {
			c.send(true, 0, 10, []byte("unsolicited"))
			c.alive()
		}},
		{name: "2.9 pong then ping", run: func(c *rawClient) {
			c.send(true, 0, 10, []byte("pong"))
			c.ping([]byte("ping"))
			c.expect(10, []byte("ping"))
		}},
		{name: "2.10 ten pings", run: func(c *rawClient) {
			for i := range 10 {
				c.ping([]byte{byte(i)})
			}
			for i := range 10 {
				c.expect(10, []byte{byte(i)})
			}
		}},
		{name: "2.11 ten pings, one byte at a time", run: func(c *rawClient) {
			var all []byte
			for i := range 10 {
				all = append(all, frameBytes(true, 0, 9, []byte{byte(i)}, true)...)
			}
			c.chunked(all, 1)
			for i := range 10 {
				c.expect(10, []byte{byte(i)})
			}
		}},
	})
}

func TestAutobahn3ReservedBits(t *testing.T) {
	runCases(t, []wsCase{
		{name: "3.1 RSV1 on text without an extension", run: func(c *rawClient) {
			c.send(true, 4, 1, []byte("Hello"))
			c.expectClose(1002)
		}},
		{name: "3.2 RSV2 after a good message", run: func(c *rawClient) {
			c.text("Hello")
			c.send(true, 2, 1, []byte("Hello"))
			c.ping([]byte("never answered"))
			c.expect(1, []byte("Hello"))
			c.expectClose(1002)
		}},
		{name: "3.3 RSV1+RSV2 in one write with good frames", run: func(c *rawClient) {
			c.write(append(append(frameBytes(true, 0, 1, []byte("Hello"), true), frameBytes(true, 6, 1, []byte("Hello"), true)...), frameBytes(true, 0, 9, nil, true)...))
			c.expect(1, []byte("Hello"))
			c.expectClose(1002)
		}},
		{name: "3.4 RSV3 on text", run: func(c *rawClient) {
			c.send(true, 1, 1, []byte("Hello"))
			c.expectClose(1002)
		}},
		{name: "3.5 RSV1+RSV3 on binary", run: func(c *rawClient) {
			c.send(true, 5, 2, []byte{0xff, 0xfe})
			c.expectClose(1002)
		}},
		{name: "3.6 RSV2+RSV3 on ping", run: func(c *rawClient) {
			c.send(true, 3, 9, []byte("Hello"))
			c.expectClose(1002)
		}},
		{name: "3.7 all RSV on close", run: func(c *rawClient) {
			c.send(true, 7, 8, closeWith(1000, ""))
			c.expectClose(1002)
		}},
	})
}

func TestAutobahn4Opcodes(t *testing.T) {
	var cases []wsCase
	for _, op := range []byte{3, 4, 5, 6, 7} {
		cases = append(cases, wsCase{name: "4.1 reserved data opcode " + itoa(int(op)), run: func(c *rawClient) {
			c.text("Hello")
			c.send(true, 0, op, []byte("reserved"))
			c.ping(nil)
			c.expect(1, []byte("Hello"))
			c.expectClose(1002)
		}})
	}
	for _, op := range []byte{11, 12, 13, 14, 15} {
		cases = append(cases, wsCase{name: "4.2 reserved control opcode " + itoa(int(op)), run: func(c *rawClient) {
			c.send(true, 0, op, nil)
			c.expectClose(1002)
		}})
	}
	runCases(t, cases)
}

func TestAutobahn5Fragmentation(t *testing.T) {
	frag := func(fin bool, op byte, s string) []byte { return frameBytes(fin, 0, op, []byte(s), true) }
	runCases(t, []wsCase{
		{name: "5.1 fragmented ping", run: func(c *rawClient) {
			c.write(append(frag(false, 9, "frag1"), frag(true, 0, "frag2")...))
			c.expectClose(1002)
		}},
		{name: "5.2 fragmented pong", run: func(c *rawClient) {
			c.write(append(frag(false, 10, "frag1"), frag(true, 0, "frag2")...))
			c.expectClose(1002)
		}},
		{name: "5.3 text in two fragments", run: func(c *rawClient) {
			c.write(append(frag(false, 1, "frag1"), frag(true, 0, "frag2")...))
			c.expect(1, []byte("frag1frag2"))
		}},
		{name: "5.4 text in two fragments, two writes", run: func(c *rawClient) {
			c.write(frag(false, 1, "frag1"))
			c.write(frag(true, 0, "frag2"))
			c.expect(1, []byte("frag1frag2"))
		}},
		{name: "5.5 text in two fragments, one byte at a time", run: func(c *rawClient) {
			c.chunked(append(frag(false, 1, "frag1"), frag(true, 0, "frag2")...), 1)
			c.expect(1, []byte("frag1frag2"))
		}},
		{name: "5.6 text in two fragments with a ping between", run: func(c *rawClient) {
			c.write(append(append(frag(false, 1, "frag1"), frag(true, 9, "ping")...), frag(true, 0, "frag2")...))
			c.expect(10, []byte("ping"))
			c.expect(1, []byte("frag1frag2"))
		}},
		{name: "5.8 the same, one byte at a time", run: func(c *rawClient) {
			c.chunked(append(append(frag(false, 1, "frag1"), frag(true, 9, "ping")...), frag(true, 0, "frag2")...), 1)
			c.expect(10, []byte("ping"))
			c.expect(1, []byte("frag1frag2"))
		}},
		{name: "5.9 continuation without a message, fin", run: func(c *rawClient) {
			c.write(frag(true, 0, "cont"))
			c.expectClose(1002)
		}},
		{name: "5.12 continuation without a message, not fin", run: func(c *rawClient) {
			c.write(frag(false, 0, "cont"))
			c.expectClose(1002)
		}},
		{name: "5.15 a message, then a stray continuation", run: func(c *rawClient) {
			c.write(append(append(frag(false, 1, "a"), frag(true, 0, "b")...), append(frag(false, 0, "c"), frag(true, 0, "d")...)...))
			c.expect(1, []byte("ab"))
			c.expectClose(1002)
		}},
		{name: "5.18 text inside a fragmented text", run: func(c *rawClient) {
			c.write(append(frag(false, 1, "frag1"), frag(true, 1, "frag2")...))
			c.expectClose(1002)
		}},
		{name: "5.19 five fragments with pings between", run: func(c *rawClient) {
			c.write(frag(false, 1, "1"))
			c.write(frag(false, 0, "2"))
			c.write(frag(true, 9, "p1"))
			c.expect(10, []byte("p1"))
			c.write(frag(false, 0, "3"))
			c.write(frag(false, 0, "4"))
			c.write(frag(true, 9, "p2"))
			c.expect(10, []byte("p2"))
			c.write(frag(true, 0, "5"))
			c.expect(1, []byte("12345"))
		}},
		{name: "5.x empty fragments", run: func(c *rawClient) {
			c.write(append(append(frag(false, 2, ""), frag(false, 0, "")...), frag(true, 0, "")...))
			c.expect(2, []byte{})
		}},
		{name: "5.x large fragments, streamed", run: func(c *rawClient) {
			var all []byte
			for i := range 8 {
				all = append(all, frameBytes(i == 7, 0, byte(map[bool]int{true: 2, false: 0}[i == 0]), payloadOf(20000), true)...)
			}
			c.chunked(all, 1500)
			c.expect(2, bytes.Repeat(payloadOf(20000), 8))
		}},
	})
}

// utf8Cases are byte sequences, valid or not, from Markus Kuhn's UTF-8
// decoder stress test (Autobahn 6.x draws on the same file).
var utf8Cases = []struct {
	name  string
	b     []byte
	valid bool
}{
	{"ascii", []byte("Hello"), true},
	{"κόσμε", []byte("κόσμε"), true},
	{"first of each length", []byte("\x00\u0080\u0800\U00010000"), true},
	{"last of each length", []byte("\u007f\u07ff\uffff\U0010ffff"), true},
	{"boundaries", []byte("\ud7ff\ue000\ufffd"), true},
	{"lone continuation", []byte{0x80}, false},
	{"two continuations", []byte{0x80, 0xbf}, false},
	{"lone start", []byte{0xc0, ' '}, false},
	{"truncated 3-byte", []byte{0xe0, 0x80}, false},
	{"truncated 4-byte at end", []byte("ok\xf0\x90\x80"), false},
	{"overlong slash 2", []byte{0xc0, 0xaf}, false},
	{"overlong slash 3", []byte{0xe0, 0x80, 0xaf}, false},
	{"overlong slash 4", []byte{0xf0, 0x80, 0x80, 0xaf}, false},
	{"overlong max 3", []byte{0xe0, 0x9f, 0xbf}, false},
	{"surrogate", []byte{0xed, 0xa0, 0x80}, false},
	{"surrogate pair", []byte{0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80}, false},
	{"above U+10FFFF", []byte{0xf4, 0x90, 0x80, 0x80}, false},
	{"fe", []byte{0xfe}, false},
	{"ff", []byte{0xff}, false},
	{"5-byte", []byte{0xf8, 0x88, 0x80, 0x80, 0x80}, false},
	{"invalid in the middle", []byte("κόσμε\xed\xa0\x80edited"), false},
}

func TestAutobahn6UTF8(t *testing.T) {
	var cases []wsCase
	for _, u := range utf8Cases {
		cases = append(cases, wsCase{name: "6 whole " + u.name, run: func(c *rawClient) {
			c.send(true, 0, 1, u.b)
			if u.valid {
				c.expect(1, u.b)
			} else {
				c.expectClose(1007)
			}
		}})
		// The same bytes in one-byte fragments: the validator carries
		// incomplete sequences across fragments.
		cases = append(cases, wsCase{name: "6 fragmented " + u.name, run: func(c *rawClient) {
			var all []byte
			for i := range u.b {
				op := byte(0)
				if i == 0 {
					op = 1
				}
				all = append(all, frameBytes(i == len(u.b)-1, 0, op, u.b[i:i+1], true)...)
			}
			c.write(all)
			if u.valid {
				c.expect(1, u.b)
			} else {
				c.expectClose(1007)
			}
		}})
	}
	cases = append(cases,
		wsCase{name: "6.1 empty text in three empty fragments", run: func(c *rawClient) {
			c.write(append(append(frameBytes(false, 0, 1, nil, true), frameBytes(false, 0, 0, nil, true)...), frameBytes(true, 0, 0, nil, true)...))
			c.expect(1, []byte{})
		}},
		wsCase{name: "6.4.1 fail fast: invalid second fragment, before the third", run: func(c *rawClient) {
			c.write(frameBytes(false, 0, 1, []byte("κόσμε"), true))
			c.write(frameBytes(false, 0, 0, []byte{0xf4, 0x90, 0x80, 0x80}, true))
			c.expectClose(1007) // the third fragment is never sent
		}},
		wsCase{name: "6.4.2 fail fast inside one fragment", run: func(c *rawClient) {
			c.write(frameBytes(false, 0, 1, []byte("κόσμε\xf4"), true))
			c.write(frameBytes(false, 0, 0, []byte{0x90}, true))
			c.expectClose(1007)
		}},
		wsCase{name: "6.4.3 fail fast on a streamed frame", run: func(c *rawClient) {
			b := frameBytes(true, 0, 1, append(payloadOf(10000), 0xff), true)
			c.write(b[:len(b)-1]) // the frame is not complete: its start streams
			c.write(b[len(b)-1:])
			c.expectClose(1007)
		}},
		wsCase{name: "6.x valid text split inside a character", run: func(c *rawClient) {
			s := []byte("€𝄞€")
			c.write(append(append(frameBytes(false, 0, 1, s[:2], true), frameBytes(false, 0, 0, s[2:5], true)...), frameBytes(true, 0, 0, s[5:], true)...))
			c.expect(1, s)
		}},
	)
	runCases(t, cases)
}

func TestAutobahn7Close(t *testing.T) {
	cases := []wsCase{
		{name: "7.1.1 echo then close", run: func(c *rawClient) {
			c.text("Hello")
			c.expect(1, []byte("Hello"))
			c.closeFrame(1000, "")
			c.expectClose(1000)
		}},
		{name: "7.1.2 two closes", run: func(c *rawClient) {
			c.closeFrame(1000, "")
			c.closeFrame(1000, "")
			c.expectClose(1000)
		}},
		{name: "7.1.3 ping after close", run: func(c *rawClient) {
			c.closeFrame(1000, "")
			c.ping([]byte("after close"))
			c.expectClose(1000) // no pong: the close is the only frame
		}},
		{name: "7.1.4 text after close", run: func(c *rawClient) {
			c.write(append(frameBytes(true, 0, 8, closeWith(1000, ""), true), frameBytes(true, 0, 1, []byte("late"), true)...))
			f := c.expect(8, nil)
			if binary.BigEndian.Uint16(f.payload) != 1000 {
				c.t.Fatalf("close payload %x", f.payload)
			}
			c.expectEOF()
		}},
		{name: "7.1.5 close inside a fragmented message", run: func(c *rawClient) {
			c.write(frameBytes(false, 0, 1, []byte("frag1"), true))
			c.closeFrame(1000, "")
			c.write(frameBytes(true, 0, 0, []byte("frag2"), true))
			c.expectClose(1000)
		}},
		{name: "7.1.6 large message then close", run: func(c *rawClient) {
			c.binary(payloadOf(256 << 10))
			c.closeFrame(1000, "")
			c.expect(2, payloadOf(256<<10))
			c.expectClose(1000)
		}},
		{name: "7.3.1 close without payload", run: func(c *rawClient) {
			c.send(true, 0, 8, nil)
			c.expect(8, []byte{})
			c.expectEOF()
		}},
		{name: "7.3.2 close with one byte", run: func(c *rawClient) {
			c.send(true, 0, 8, []byte{0x03})
			c.expectClose(1002)
		}},
		{name: "7.3.3 close with code only", run: func(c *rawClient) {
			c.closeFrame(1000, "")
			c.expectClose(1000)
		}},
		{name: "7.3.4 close with a reason", run: func(c *rawClient) {
			c.closeFrame(1000, "Hello World!")
			c.expectClose(1000)
		}},
		{name: "7.3.5 close with a 123-byte reason", run: func(c *rawClient) {
			c.closeFrame(1000, repeat("*", 123))
			c.expectClose(1000)
		}},
		{name: "7.3.6 close with a 124-byte reason", run: func(c *rawClient) {
			c.closeFrame(1000, repeat("*", 124))
			c.expectClose(1002)
		}},
		{name: "7.5.1 close reason not UTF-8", run: func(c *rawClient) {
			c.send(true, 0, 8, append(closeWith(1000, ""), 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64))
			c.expectClose(1007)
		}},
	}
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, wsCase{name: "7.7 valid code " + itoa(code), run: func(c *rawClient) {
			c.closeFrame(code, "")
			c.expectClose(code)
		}})
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, wsCase{name: "7.9 invalid code " + itoa(code), run: func(c *rawClient) {
			c.closeFrame(code, "")
			c.expectClose(1002)
		}})
	}
	runCases(t, cases)
}

func TestAutobahn9Limits(t *testing.T) {
	big := Config{MaxMessageSize: 8 << 20}
	var cases []wsCase
	for _, n := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		cases = append(cases,
			wsCase{name: "9.1 text " + itoa(n), cfg: big, run: func(c *rawClient) {
				c.text(string(payloadOf(n)))
				c.expect(1, payloadOf(n))
			}},
			wsCase{name: "9.2 binary " + itoa(n), cfg: big, run: func(c *rawClient) {
				c.binary(payloadOf(n))
				c.expect(2, payloadOf(n))
			}})
	}
	for _, frag := range []int{64, 4 << 10, 64 << 10, 1 << 20} {
		cases = append(cases, wsCase{name: "9.3 4 MiB text in fragments of " + itoa(frag), cfg: big, run: func(c *rawClient) {
			msg := payloadOf(4 << 20)
			var all []byte
			for off := 0; off < len(msg); off += frag {
				op := byte(0)
				if off == 0 {
					op = 1
				}
				all = append(all, frameBytes(off+frag >= len(msg), 0, op, msg[off:min(off+frag, len(msg))], true)...)
			}
			c.write(all)
			c.expect(1, msg)
		}})
	}
	for _, chunk := range []int{64, 4 << 10, 64 << 10} {
		cases = append(cases, wsCase{name: "9.5 1 MiB binary written in chunks of " + itoa(chunk), cfg: big, run: func(c *rawClient) {
			c.chunked(frameBytes(true, 0, 2, payloadOf(1<<20), true), chunk)
			c.expect(2, payloadOf(1<<20))
		}})
	}
	small := Config{MaxMessageSize: 64 << 10, MaxFrameSize: 16 << 10}
	cases = append(cases,
		wsCase{name: "9.x frame over MaxFrameSize", cfg: small, run: func(c *rawClient) {
			c.write(frameBytes(true, 0, 2, payloadOf(16<<10+1), true)[:20]) // the header is enough
			c.expectClose(1009)
		}},
		wsCase{name: "9.x message over MaxMessageSize in fragments", cfg: small, run: func(c *rawClient) {
			for i := range 5 {
				op := byte(0)
				if i == 0 {
					op = 2
				}
				c.write(frameBytes(false, 0, op, payloadOf(16<<10), true))
			}
			c.expectClose(1009)
		}},
		wsCase{name: "9.x frame at MaxFrameSize", cfg: small, run: func(c *rawClient) {
			c.binary(payloadOf(16 << 10))
			c.expect(2, payloadOf(16<<10))
		}},
	)
	runCases(t, cases)
}

// TestCloseHandshakeServerInitiated checks the server's side of a close it
// starts: the close frame, no data after it, the TCP close once the client
// answers, and the CloseError OnClose gets.
func TestCloseHandshakeServerInitiated(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		h := newEcho()
		s := startWS(t, m, Config{}, h)
		c := dialRaw(t, s.addr, "")
		conn := <-h.opened
		if err := conn.Close(4000, "custom"); err != nil {
			t.Fatal(err)
		}
		if err := conn.WriteText("after close"); err != ErrClosed {
			t.Fatalf("write after Close: %v", err)
		}
		c.expect(8, closeWith(4000, "custom"))
		c.closeFrame(4000, "")
		c.expectEOF()
		ce := h.waitClose(t)
		if ce.Code != 4000 || ce.Remote || ce.Reason != "custom" {
			t.Fatalf("OnClose: %+v", ce)
		}
	})
}

// TestCloseTimeout: a client that never answers the close frame is
// disconnected after CloseTimeout.
func TestCloseTimeout(t *testing.T) {
	h := newEcho()
	s := startWS(t, modeNative, Config{CloseTimeout: 100 * time.Millisecond}, h)
	c := dialRaw(t, s.addr, "")
	conn := <-h.opened
	conn.Close(StatusGoingAway, "")
	c.expect(8, closeWith(1001, ""))
	c.expectEOF()
	if ce := h.waitClose(t); ce.Code != StatusGoingAway || ce.Remote {
		t.Fatalf("OnClose: %+v", ce)
	}
}
