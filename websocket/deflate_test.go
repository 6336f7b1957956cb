package websocket

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// Autobahn groups 12 and 13: permessage-deflate, its negotiation, and
// messages of many sizes compressed with and without context takeover.
// The raw client compresses with compress/flate directly, independently
// of the package's code.

// rawDeflater is the client's compressor: one stream when the client
// keeps its context, a fresh one per message otherwise.
type rawDeflater struct {
	out  bytes.Buffer
	fw   *flate.Writer
	keep bool
}

func newRawDeflater(keep bool) *rawDeflater {
	d := &rawDeflater{keep: keep}
	d.fw, _ = flate.NewWriter(&d.out, flate.DefaultCompression)
	return d
}

func (d *rawDeflater) compress(p []byte) []byte {
	if !d.keep {
		d.fw.Reset(&d.out)
	}
	d.out.Reset()
	d.fw.Write(p)
	d.fw.Flush()
	b := bytes.Clone(d.out.Bytes())
	return bytes.TrimSuffix(b, []byte{0, 0, 0xff, 0xff})
}

// rawInflater decompresses the server's messages, keeping the window
// across messages when the server keeps its context.
type rawInflater struct {
	hist []byte
	keep bool
}

func (f *rawInflater) inflate(t testing.TB, p []byte) []byte {
	t.Helper()
	var dict []byte
	if f.keep {
		dict = f.hist
	}
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff")), dict)
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate server message: %v", err)
	}
	if f.keep {
		f.hist = append(f.hist, out...)
		if len(f.hist) > 32<<10 {
			f.hist = f.hist[len(f.hist)-32<<10:]
		}
	}
	return out
}

// expectMessage reads a data message, inflating it if RSV1 is set.
func (c *rawClient) expectMessage(f *rawInflater, op byte, want []byte) {
	c.t.Helper()
	fr, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("want a message: %v", err)
	}
	if fr.op != op || !fr.fin {
		c.t.Fatalf("got op=%d fin=%v, want op=%d", fr.op, fr.fin, op)
	}
	got := fr.payload
	if fr.rsv == 4 {
		got = f.inflate(c.t, got)
	} else if fr.rsv != 0 {
		c.t.Fatalf("rsv %d", fr.rsv)
	}
	if !bytes.Equal(got, want) {
		c.t.Fatalf("got %d bytes %q, want %d %q", len(got), trunc(got), len(want), trunc(want))
	}
}

func TestAutobahn13Negotiation(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		offer    string
		response string // "" means declined
	}{
		{"13.1 no params", Config{Compression: true}, "permessage-deflate",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"off in config", Config{}, "permessage-deflate", ""},
		{"13.3 server_max_window_bits=9 accepted, sent uncompressed", Config{Compression: true}, "permessage-deflate; server_max_window_bits=9",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"},
		{"13.4 client_max_window_bits (no value)", Config{Compression: true}, "permessage-deflate; client_max_window_bits",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"13.5 client_max_window_bits=9", Config{Compression: true}, "permessage-deflate; client_max_window_bits=9",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"13.6 takeover on: both keep", Config{Compression: true, ContextTakeover: true}, "permessage-deflate", "permessage-deflate"},
		{"13.7 takeover on: client asks no takeover", Config{Compression: true, ContextTakeover: true}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"bad window value declines", Config{Compression: true}, "permessage-deflate; server_max_window_bits=16", ""},
		{"window with leading zero declines", Config{Compression: true}, "permessage-deflate; server_max_window_bits=010", ""},
		{"unknown param declines", Config{Compression: true}, "permessage-deflate; foo=1", ""},
		{"repeated param declines", Config{Compression: true}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", ""},
		{"value on a flag declines", Config{Compression: true}, "permessage-deflate; client_no_context_takeover=1", ""},
		{"second offer accepted", Config{Compression: true}, "permessage-deflate; foo, permessage-deflate; client_max_window_bits",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"unknown extension ignored", Config{Compression: true}, "x-webkit-deflate-frame, permessage-deflate",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"quoted value", Config{Compression: true}, `permessage-deflate; client_max_window_bits="10"`,
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startWS(t, modeNative, tc.cfg, newEcho())
			c := dialRaw(t, s.addr, header("Sec-WebSocket-Extensions", tc.offer))
			if got := c.resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.response {
				t.Fatalf("response %q, want %q", got, tc.response)
			}
		})
	}
}

func TestAutobahn12And13Compression(t *testing.T) {
	type variant struct {
		name                     string
		cfg                      Config
		offer                    string
		clientKeeps, serverKeeps bool
		serverCompresses         bool
	}
	variants := []variant{
		{"no context takeover", Config{Compression: true}, "permessage-deflate", false, false, true},
		{"context takeover", Config{Compression: true, ContextTakeover: true}, "permessage-deflate", true, true, true},
		{"client keeps, server resets", Config{Compression: true, ContextTakeover: true}, "permessage-deflate; server_no_context_takeover", true, false, true},
		{"server window 9: server sends plain", Config{Compression: true}, "permessage-deflate; server_max_window_bits=9", false, false, false},
		{"huffman only", Config{Compression: true, CompressionLevel: flate.HuffmanOnly}, "permessage-deflate", false, false, true},
		{"best compression", Config{Compression: true, CompressionLevel: flate.BestCompression}, "permessage-deflate", false, false, true},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, m mode) {
				s := startWS(t, m, v.cfg, newEcho())
				c := dialRaw(t, s.addr, header("Sec-WebSocket-Extensions", v.offer))
				if c.resp.Header.Get("Sec-WebSocket-Extensions") == "" {
					t.Fatal("permessage-deflate declined")
				}
				d := newRawDeflater(v.clientKeeps)
				f := &rawInflater{keep: v.serverKeeps}
				compressedReplies := 0
				// 12.x: messages of growing sizes, text and binary,
				// several of each so context takeover matters.
				for _, n := range []int{0, 16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072} {
					for i := range 3 {
						msg := wordsText(rng, n)
						op := byte(1 + i%2)
						c.send(true, 4, op, d.compress(msg))
						fr, err := c.readFrame()
						if err != nil {
							t.Fatalf("size %d: %v", n, err)
						}
						got := fr.payload
						if fr.rsv == 4 {
							compressedReplies++
							got = f.inflate(t, got)
						}
						if fr.op != op || !bytes.Equal(got, msg) {
							t.Fatalf("size %d: echo op=%d %d bytes, want op=%d %d bytes", n, fr.op, len(got), op, len(msg))
						}
					}
				}
				if v.serverCompresses != (compressedReplies > 0) {
					t.Fatalf("server compressed %d replies, want compression %v", compressedReplies, v.serverCompresses)
				}
				// An uncompressed message is fine too (RSV1 is per message).
				c.text("plain")
				c.expectMessage(f, 1, []byte("plain"))
				// A compressed message in fragments: RSV1 on the first only.
				comp := d.compress([]byte(strings.Repeat("fragmented compressed ", 100)))
				c.write(append(frameBytes(false, 4, 1, comp[:10], true), frameBytes(true, 0, 0, comp[10:], true)...))
				c.expectMessage(f, 1, []byte(strings.Repeat("fragmented compressed ", 100)))
				// RSV1 on a continuation frame is a protocol error.
				c.write(append(frameBytes(false, 4, 1, comp[:10], true), frameBytes(true, 4, 0, comp[10:], true)...))
				c.expectClose(1002)
			})
		})
	}
}

func TestCompressionErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		send func(c *rawClient)
		code int
	}{
		{"RSV1 on a ping", Config{Compression: true}, func(c *rawClient) { c.send(true, 4, 9, nil) }, 1002},
		{"corrupt deflate data", Config{Compression: true}, func(c *rawClient) { c.send(true, 4, 2, []byte{0xff, 0xff, 0xff, 0xff, 0x00}) }, 1007},
		{"compressed invalid UTF-8", Config{Compression: true}, func(c *rawClient) {
			c.send(true, 4, 1, newRawDeflater(false).compress([]byte{0xff, 0xfe}))
		}, 1007},
		{"deflate bomb over MaxMessageSize", Config{Compression: true, MaxMessageSize: 64 << 10}, func(c *rawClient) {
			c.send(true, 4, 2, newRawDeflater(false).compress(make([]byte, 10<<20)))
		}, 1009},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startWS(t, modeNative, tc.cfg, newEcho())
			c := dialRaw(t, s.addr, header("Sec-WebSocket-Extensions", "permessage-deflate"))
			tc.send(c)
			c.expectClose(tc.code)
		})
	}
}

// wordsText is n bytes of compressible, valid UTF-8 text.
func wordsText(rng *rand.Rand, n int) []byte {
	words := []string{"hello ", "wharf ", "socket ", "deflate ", "κόσμε ", "🚢 ", "x"}
	var b []byte
	for len(b) < n {
		w := words[rng.IntN(len(words))]
		if len(b)+len(w) > n {
			w = "x"
		}
		b = append(b, w...)
	}
	return b
}
