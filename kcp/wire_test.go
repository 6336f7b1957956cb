package kcp

import (
	"bytes"
	"net"
	"sort"
	"testing"
	"time"

	"wharf/packet"
)

// rawPeer is an ikcp peer written out by hand: it builds segments with the
// ikcp layout and reads the server's datagrams off a plain UDP socket. It is
// the wire-level stand-in for the reference C implementation.
type rawPeer struct {
	t    *testing.T
	uc   *net.UDPConn
	to   *net.UDPAddr
	conv uint32
}

func newRawPeer(t *testing.T, to *net.UDPAddr, conv uint32) *rawPeer {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	return &rawPeer{t: t, uc: uc, to: to, conv: conv}
}

// seg encodes one segment.
func seg(h segHeader, data []byte) []byte {
	h.length = uint32(len(data))
	b := make([]byte, segHeaderSize+len(data))
	h.put(b)
	copy(b[segHeaderSize:], data)
	return b
}

func (p *rawPeer) send(segs ...[]byte) {
	p.t.Helper()
	if _, err := p.uc.WriteToUDP(bytes.Join(segs, nil), p.to); err != nil {
		p.t.Fatal(err)
	}
}

type rawSeg struct {
	h    segHeader
	data []byte
}

// recv reads one datagram and splits it into segments by hand.
func (p *rawPeer) recv(timeout time.Duration) ([]rawSeg, bool) {
	p.t.Helper()
	buf := make([]byte, 2048)
	p.uc.SetReadDeadline(time.Now().Add(timeout))
	n, _, err := p.uc.ReadFromUDP(buf)
	if err != nil {
		return nil, false
	}
	b := buf[:n]
	var out []rawSeg
	for len(b) > 0 {
		if len(b) < segHeaderSize {
			p.t.Fatalf("datagram with a %d-byte tail, want whole 24-byte headers", len(b))
		}
		h := parseSegHeader(b)
		b = b[segHeaderSize:]
		if int(h.length) > len(b) {
			p.t.Fatalf("segment len %d, only %d bytes left", h.length, len(b))
		}
		out = append(out, rawSeg{h: h, data: append([]byte(nil), b[:h.length]...)})
		b = b[h.length:]
	}
	return out, true
}

// TestIkcpWireCompat proves wire compatibility with ikcp with no C code: a
// hand-built PUSH carrying a wharf ping must be acknowledged and answered
// with a PUSH carrying the ping reply, all decoded by hand; then a request
// split in two fragments (ikcp's message mode, frg 1 then 0, as
// ikcp_send produces for a message above the MSS) must be reassembled and
// echoed.
func TestIkcpWireCompat(t *testing.T) {
	for _, mode := range []Mode{ModeFast, ModeNormal, ModeDefault} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envOpts{kcp: Config{Mode: mode}})
			p := newRawPeer(t, e.addr(), 0x11223344)
			ping, _ := packet.Encode(packet.CodePing, nil)
			const ts = 1000
			p.send(seg(segHeader{conv: p.conv, cmd: cmdPush, wnd: 128, ts: ts, sn: 0, una: 0}, ping))

			var gotAck bool
			var pushes []rawSeg
			deadline := time.Now().Add(5 * time.Second)
			for (!gotAck || len(pushes) == 0) && time.Now().Before(deadline) {
				segs, ok := p.recv(time.Second)
				if !ok {
					continue
				}
				for _, s := range segs {
					if s.h.conv != p.conv {
						t.Fatalf("conv %#x, want %#x", s.h.conv, p.conv)
					}
					switch s.h.cmd {
					case cmdAck:
						if s.h.sn != 0 || s.h.ts != ts || s.h.una != 1 || s.h.length != 0 {
							t.Fatalf("ACK %+v, want sn 0, ts %d echoed, una 1, no data", s.h, ts)
						}
						gotAck = true
					case cmdPush:
						if s.h.una != 1 {
							t.Fatalf("PUSH una %d, want 1 (our sn 0 received)", s.h.una)
						}
						pushes = append(pushes, s)
					}
				}
			}
			if !gotAck || len(pushes) == 0 {
				t.Fatalf("ack %v, pushes %d: want both", gotAck, len(pushes))
			}
			reply := pushes[0]
			if reply.h.sn != 0 || reply.h.frg != 0 || !bytes.Equal(reply.data, ping) {
				t.Fatalf("PUSH sn %d frg %d data %x, want sn 0 frg 0 carrying the ping reply %x", reply.h.sn, reply.h.frg, reply.data, ping)
			}
			if reply.h.wnd == 0 {
				t.Fatal("PUSH advertises a zero window")
			}
			p.send(seg(segHeader{conv: p.conv, cmd: cmdAck, wnd: 128, ts: reply.h.ts, sn: 0, una: 1}, nil))

			// A message-mode request of two fragments, one datagram each (a
			// datagram is at most an MTU).
			body := bytes.Repeat([]byte("wharf"), 400) // 2000 bytes
			echo, _ := packet.Encode(codeEcho, body)
			mss := defaultMTU - segHeaderSize
			p.send(seg(segHeader{conv: p.conv, cmd: cmdPush, frg: 1, wnd: 128, ts: ts + 10, sn: 1, una: 1}, echo[:mss]))
			p.send(seg(segHeader{conv: p.conv, cmd: cmdPush, frg: 0, wnd: 128, ts: ts + 10, sn: 2, una: 1}, echo[mss:]))
			got := map[uint32][]byte{}
			total := 0
			for total < len(echo) && time.Now().Before(deadline.Add(5*time.Second)) {
				segs, ok := p.recv(time.Second)
				if !ok {
					continue
				}
				for _, s := range segs {
					if s.h.cmd != cmdPush || s.h.sn == 0 {
						continue
					}
					if s.h.frg != 0 {
						t.Fatalf("server PUSH with frg %d: stream mode sends 0", s.h.frg)
					}
					if _, dup := got[s.h.sn]; !dup {
						got[s.h.sn] = s.data
						total += len(s.data)
					}
					p.send(seg(segHeader{conv: p.conv, cmd: cmdAck, wnd: 128, ts: s.h.ts, sn: s.h.sn, una: 3}, nil))
				}
			}
			sns := make([]int, 0, len(got))
			for sn := range got {
				sns = append(sns, int(sn))
			}
			sort.Ints(sns)
			var stream []byte
			for i, sn := range sns {
				if sn != i+1 {
					t.Fatalf("server sns %v, want 1, 2, ...", sns)
				}
				stream = append(stream, got[uint32(sn)]...)
			}
			if !bytes.Equal(stream, echo) {
				t.Fatalf("reassembled %d bytes, want the %d-byte echo", len(stream), len(echo))
			}
		})
	}
}

func TestParseSegments(t *testing.T) {
	push := func(conv, sn uint32, data string) []byte {
		return seg(segHeader{conv: conv, cmd: cmdPush, wnd: 32, sn: sn}, []byte(data))
	}
	ack := seg(segHeader{conv: 7, cmd: cmdAck, wnd: 32, sn: 3, una: 9}, nil)
	truncated := push(7, 0, "hello")[:segHeaderSize+2]
	badCmd := push(7, 0, "x")
	badCmd[4] = 80
	ackWithData := seg(segHeader{conv: 7, cmd: cmdAck}, []byte("x"))
	tests := []struct {
		name   string
		in     []byte
		ok     bool
		opener bool
		pushes int
		una    uint32
	}{
		{"empty", nil, false, false, 0, 0},
		{"short", make([]byte, 23), false, false, 0, 0},
		{"push sn 0", push(7, 0, "hi"), true, true, 1, 0},
		{"push sn 1", push(7, 1, "hi"), true, false, 1, 0},
		{"push far on", push(7, 500, "hi"), true, false, 1, 0},
		{"ack only", ack, true, false, 0, 9},
		{"push then ack", append(push(7, 1, "a"), ack...), true, false, 1, 9},
		{"sn 0 and 1", append(push(7, 0, "a"), push(7, 1, "b")...), true, true, 2, 0},
		{"two convs", append(push(7, 0, "a"), push(8, 1, "b")...), false, false, 0, 0},
		{"truncated payload", truncated, false, false, 0, 0},
		{"trailing bytes", append(push(7, 0, "a"), 1, 2, 3), false, false, 0, 0},
		{"unknown cmd", badCmd, false, false, 0, 0},
		{"ack with payload", ackWithData, false, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, ok := parseSegments(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if info.opener != tt.opener || info.pushes != tt.pushes || info.una != tt.una {
				t.Fatalf("opener %v pushes %d una %d, want %v %d %d", info.opener, info.pushes, info.una, tt.opener, tt.pushes, tt.una)
			}
		})
	}
}

// FuzzParseSegments checks that the validator never panics and that what
// it accepts walks cleanly segment by segment.
func FuzzParseSegments(f *testing.F) {
	f.Add(seg(segHeader{conv: 1, cmd: cmdPush, sn: 0}, []byte("ping")))
	f.Add(append(seg(segHeader{conv: 1, cmd: cmdPush, sn: 1}, []byte("a")), seg(segHeader{conv: 1, cmd: cmdAck, una: 2}, nil)...))
	f.Add(make([]byte, 23))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, ok := parseSegments(b)
		if !ok {
			return
		}
		n, payload := 0, 0
		forEachPush(b, func(sn uint32, length int) { n++; payload += length })
		if n != info.pushes || payload != info.payload {
			t.Fatalf("forEachPush saw %d pushes / %d bytes, parseSegments %d / %d", n, payload, info.pushes, info.payload)
		}
	})
}
