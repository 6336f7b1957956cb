package websocket

import (
	"compress/flate"
	"io"
	"strconv"
	"strings"
	"sync"
)

// permessage-deflate (RFC 7692).
//
// A compressed message is the DEFLATE stream of its payload, flushed with
// a sync flush, minus the flush's 4-byte tail 00 00 ff ff; the first frame
// has RSV1 set. With context takeover a side keeps its LZ77 window (the
// last 32 KiB it compressed) from one message to the next; without it
// every message is compressed on its own.
//
// What it costs with compress/flate:
//
//   - A flate.Writer is about 800 KiB (1.2 MiB at BestSpeed), a
//     flate reader about 40 KiB. Writers and readers are pooled and held
//     only while a message is compressed or decompressed.
//   - Without context takeover (the default: the server asks for
//     server_no_context_takeover and client_no_context_takeover in every
//     response, as RFC 7692 §7.1.1 allows it to) an idle connection holds
//     no deflate memory at all.
//   - With Config.ContextTakeover, the server keeps its own flate.Writer
//     per connection (its window must survive between messages, and a
//     pooled writer cannot be given a new dictionary), so about 1 MiB per
//     connection; and, if the client keeps its context, the last 32 KiB the
//     client sent, as the dictionary its next message may refer to.
//
// Window bits: compress/flate always uses a 32 KiB window (15 bits) and
// cannot be limited. Decompressing, a smaller window the peer chose is a
// subset of that, so client_max_window_bits needs nothing. When a client
// asks for server_max_window_bits below 15 the server accepts the offer,
// decompresses what the client sends, and sends its own messages
// uncompressed (RFC 7692 lets a side leave any message uncompressed).

// deflateParams are the negotiated parameters of a connection.
type deflateParams struct {
	serverNoCtx bool // the server compresses every message on its own
	clientNoCtx bool // the client compresses every message on its own
	serverBits  int  // server_max_window_bits (0: not negotiated, i.e. 15)
	clientBits  int  // client_max_window_bits (0: not negotiated)
}

// extParam is one parameter of an extension offer.
type extParam struct {
	name, value string
	hasValue    bool
}

// parseExtensions splits Sec-WebSocket-Extensions values into offers:
// extension name and parameters, in order. Malformed elements are
// skipped.
func parseExtensions(values *strList, fn func(name string, params []extParam)) {
	var params []extParam
	values.each(func(v string) bool {
		for _, ext := range splitQuoted(v, ',') {
			parts := splitQuoted(ext, ';')
			name := strings.TrimSpace(parts[0])
			if name == "" {
				continue
			}
			params = params[:0]
			for _, p := range parts[1:] {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				k, val, has := strings.Cut(p, "=")
				k, val = strings.TrimSpace(k), strings.TrimSpace(val)
				if has && len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				params = append(params, extParam{name: strings.ToLower(k), value: val, hasValue: has})
			}
			fn(strings.ToLower(name), params)
		}
		return false
	})
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted:
			i++
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// windowBits parses a max_window_bits value: 8-15.
func windowBits(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 || len(v) > 2 {
		return 0, false
	}
	return n, true
}

// acceptDeflate checks one permessage-deflate offer from a client and
// returns the parameters the server answers with (RFC 7692 §7.1); ok is
// false for an offer it must decline (unknown or repeated parameters, bad
// values).
func acceptDeflate(params []extParam, takeover bool) (p deflateParams, ok bool) {
	var seen [4]bool
	for _, x := range params {
		var i int
		switch x.name {
		case "server_no_context_takeover":
			if x.hasValue {
				return p, false
			}
			p.serverNoCtx, i = true, 0
		case "client_no_context_takeover":
			if x.hasValue {
				return p, false
			}
			p.clientNoCtx, i = true, 1
		case "server_max_window_bits":
			n, good := windowBits(x.value)
			if !x.hasValue || !good {
				return p, false
			}
			p.serverBits, i = n, 2
		case "client_max_window_bits":
			if x.hasValue {
				n, good := windowBits(x.value)
				if !good {
					return p, false
				}
				p.clientBits = n
			} else {
				p.clientBits = 15
			}
			i = 3
		default:
			return p, false
		}
		if seen[i] {
			return p, false
		}
		seen[i] = true
	}
	if !takeover {
		// Neither side keeps a context: no per-connection deflate memory.
		p.serverNoCtx, p.clientNoCtx = true, true
	}
	// The server never needs to limit the client's window (any window up
	// to 15 bits decompresses), so client_max_window_bits is not answered.
	p.clientBits = 0
	return p, true
}

// compressesOut reports whether this side may compress what it sends:
// not when the peer limited this side's window below what compress/flate
// uses.
func (p deflateParams) compressesOut(server bool) bool {
	bitsLimit := p.serverBits
	if !server {
		bitsLimit = p.clientBits
	}
	return bitsLimit == 0 || bitsLimit == 15
}

// appendResponse appends the server's Sec-WebSocket-Extensions value.
func (p deflateParams) appendResponse(b []byte) []byte {
	b = append(b, "permessage-deflate"...)
	if p.serverNoCtx {
		b = append(b, "; server_no_context_takeover"...)
	}
	if p.clientNoCtx {
		b = append(b, "; client_no_context_takeover"...)
	}
	if p.serverBits != 0 {
		b = append(b, "; server_max_window_bits="...)
		b = strconv.AppendInt(b, int64(p.serverBits), 10)
	}
	return b
}

// parseDeflateResponse checks the server's answer to the client's offer.
func parseDeflateResponse(params []extParam) (p deflateParams, ok bool) {
	var seen [4]bool
	for _, x := range params {
		var i int
		switch x.name {
		case "server_no_context_takeover":
			p.serverNoCtx, i = true, 0
		case "client_no_context_takeover":
			p.clientNoCtx, i = true, 1
		case "server_max_window_bits":
			n, good := windowBits(x.value)
			if !good {
				return p, false
			}
			p.serverBits, i = n, 2
		case "client_max_window_bits":
			n, good := windowBits(x.value)
			if !good {
				return p, false
			}
			p.clientBits, i = n, 3
		default:
			return p, false
		}
		if seen[i] {
			return p, false
		}
		seen[i] = true
	}
	return p, true
}

// deflateTail ends the stream given to the decompressor: the sync flush
// tail the sender removed (RFC 7692 §7.2.2), then an empty final stored
// block, so that the decompressor reports io.EOF at the end of the message
// instead of waiting for more.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// inflateSource reads a compressed payload followed by deflateTail. It is
// an io.ByteReader, so flate reads it without a bufio.Reader of its own.
type inflateSource struct {
	p    []byte
	tail string
}

func (s *inflateSource) Read(b []byte) (int, error) {
	if len(s.p) > 0 {
		n := copy(b, s.p)
		s.p = s.p[n:]
		return n, nil
	}
	if len(s.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(b, s.tail)
	s.tail = s.tail[n:]
	return n, nil
}

func (s *inflateSource) ReadByte() (byte, error) {
	if len(s.p) > 0 {
		c := s.p[0]
		s.p = s.p[1:]
		return c, nil
	}
	if len(s.tail) == 0 {
		return 0, io.EOF
	}
	c := s.tail[0]
	s.tail = s.tail[1:]
	return c, nil
}

// inflater is a pooled decompressor and its source.
type inflater struct {
	src inflateSource
	fr  io.ReadCloser // implements flate.Resetter
}

var inflaters = sync.Pool{New: func() any {
	f := &inflater{}
	f.fr = flate.NewReader(&f.src)
	return f
}}

// inflate appends the decompressed payload to dst. dict is the peer's
// window from earlier messages (nil without context takeover). More than
// limit bytes of output fail with errMessageTooBig (a deflate bomb stops
// there); corrupt input with errInflate.
func inflate(dst, payload, dict []byte, limit int64) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer func() {
		f.src = inflateSource{}
		inflaters.Put(f)
	}()
	f.src = inflateSource{p: payload, tail: deflateTail}
	if err := f.fr.(flate.Resetter).Reset(&f.src, dict); err != nil {
		return dst, errInflate
	}
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := f.fr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > limit {
			return dst, errMessageTooBig
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, errInflate
		}
	}
}

// windowSize is the LZ77 window of DEFLATE: a message may refer this far
// back into the ones before it.
const windowSize = 32 << 10

// keepWindow appends msg to the window of a peer that keeps its context,
// keeping its last windowSize bytes.
func keepWindow(dict, msg []byte) []byte {
	if len(msg) >= windowSize {
		return append(dict[:0], msg[len(msg)-windowSize:]...)
	}
	if over := len(dict) + len(msg) - windowSize; over > 0 {
		dict = dict[:copy(dict, dict[over:])]
	}
	return append(dict, msg...)
}

// appendWriter is the io.Writer a flate.Writer writes a message into.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// deflater is a flate.Writer bound to its output.
type deflater struct {
	out appendWriter
	fw  *flate.Writer
}

func newDeflater(level int) *deflater {
	d := &deflater{}
	d.fw, _ = flate.NewWriter(&d.out, level) // the level was validated in Config
	return d
}

// deflaters pools writers per level (flate.HuffmanOnly is -2, so level+2
// indexes it).
var deflaters [flate.BestCompression + 3]sync.Pool

func getDeflater(level int) *deflater {
	if d, ok := deflaters[level+2].Get().(*deflater); ok {
		return d
	}
	return newDeflater(level)
}

func putDeflater(level int, d *deflater) {
	d.fw.Reset(&d.out)
	d.out.b = nil
	deflaters[level+2].Put(d)
}

// compress appends the compressed form of p to dst (RFC 7692 §7.2.1): a
// sync flush, without its 4-byte tail. Without context takeover the
// deflater is reset first, so the message refers to nothing before it.
func (d *deflater) compress(dst, p []byte, reset bool) []byte {
	if reset {
		d.fw.Reset(&d.out)
	}
	d.out.b = dst
	d.fw.Write(p) // appendWriter never fails
	d.fw.Flush()
	b := d.out.b
	d.out.b = nil
	if n := len(b); n >= 4 && b[n-4] == 0 && b[n-3] == 0 && b[n-2] == 0xff && b[n-1] == 0xff {
		b = b[:n-4]
	}
	return b
}
