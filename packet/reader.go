package packet

import (
	"fmt"
	"io"
	"sync"
)

// readerMinSize is a Reader's first buffer: bufio's default, room for a
// few dozen small packets per read. The buffer grows (by doubling, up to
// the packet that needs it) only for a packet that does not fit.
const readerMinSize = 4096

// maxEmptyReads bounds the io.Reader calls in a row that return no data
// and no error before ReadPacket gives up with io.ErrNoProgress, as bufio
// does.
const maxEmptyReads = 100

// Reader reads packets from a blocking io.Reader (a net.Conn, a file, a
// pipe): the client-side counterpart of Decoder, with the same framing and
// the same errors. It reads into one internal buffer, as large as the
// largest packet seen or 4 KiB, and returns bodies that alias it, so a
// steady stream of packets costs no allocation.
//
// A Reader is not safe for concurrent use; one goroutine owns it.
type Reader struct {
	// MaxPacket and MaxBadPackets have the meaning and defaults of the
	// Decoder fields of the same names. Set them before ReadPacket; a
	// change applies from the next call.
	MaxPacket     int
	MaxBadPackets int

	rd   io.Reader
	dec  Decoder
	src  sliceSource // buffered bytes: src.buf[src.r:src.w]
	rerr error       // error from rd, returned once the buffered bytes run out
}

// NewReader returns a Reader reading from rd with the default limits.
func NewReader(rd io.Reader) *Reader { return &Reader{rd: rd} }

// ReadPacket returns the next packet, reading from the underlying reader
// as often as needed. The body aliases the Reader's buffer and is valid
// until the next call of ReadPacket.
//
// Errors are the Decoder's (a *ChecksumError drops one packet: call again;
// see Fatal), plus the underlying reader's: io.EOF when the stream ends
// between packets, io.ErrUnexpectedEOF when it ends inside one, anything
// else as returned. Errors from the underlying reader are sticky.
func (r *Reader) ReadPacket() (code uint16, body []byte, err error) {
	r.dec.MaxPacket, r.dec.MaxBadPackets = r.MaxPacket, r.MaxBadPackets
	empty := 0
	for {
		code, body, err = r.dec.Next(&r.src)
		if err != ErrIncomplete {
			return code, body, err
		}
		if r.rerr != nil {
			if r.rerr == io.EOF && r.src.w > r.src.r {
				return 0, nil, io.ErrUnexpectedEOF
			}
			return 0, nil, r.rerr
		}
		n, err := r.rd.Read(r.space())
		if n < 0 || n > len(r.src.buf)-r.src.w {
			r.rerr = fmt.Errorf("%w: %d", ErrInvalidRead, n)
			continue
		}
		r.src.w += n
		if err != nil {
			r.rerr = err
			continue
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			r.rerr = io.ErrNoProgress
		}
	}
}

// Buffered returns the number of bytes read from the underlying reader and
// not yet returned as packets.
func (r *Reader) Buffered() int { return r.src.w - r.src.r }

// BadPackets returns the number of checksum mismatches seen so far.
func (r *Reader) BadPackets() int { return r.dec.BadPackets() }

// space makes room after the buffered bytes for at least the rest of the
// packet they start (its header tells how long it is; the Decoder has
// already checked that length) and returns the free tail to read into.
// Called only after Next returned ErrIncomplete, so no body is out: the
// buffered bytes (less than one packet, as the Decoder consumed everything
// complete before them) can slide to the front. Afterwards src.r == 0.
func (r *Reader) space() []byte {
	s := &r.src
	need := HeaderSize
	if s.w-s.r >= HeaderSize {
		need = int(ParseHeader(s.buf[s.r:]).Length)
	}
	if len(s.buf) < need || len(s.buf) == 0 {
		size := max(readerMinSize, 2*len(s.buf))
		for size < need {
			size *= 2
		}
		buf := make([]byte, size)
		s.w = copy(buf, s.buf[s.r:s.w])
		s.r = 0
		s.buf = buf
	} else if s.r > 0 {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	return s.buf[s.w:]
}

// writeBufs holds packet buffers for WritePacket (*[]byte, to avoid an
// allocation per Put). Every buffer is at most MaxPacketLimit bytes.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// WritePacket encodes one packet and writes it to w with a single Write
// call, so concurrent WritePacket calls on a net.Conn (whose Write is
// goroutine-safe and writes everything) never interleave packets. It uses
// a pooled buffer and does not allocate in the steady state. Errors are
// ErrTooLarge (nothing written) or w's error.
func WritePacket(w io.Writer, code uint16, body []byte) error {
	bp := writeBufs.Get().(*[]byte)
	p, err := Append((*bp)[:0], code, body)
	if err == nil {
		_, err = w.Write(p) // io.Writer must not retain p
	}
	*bp = p[:0]
	writeBufs.Put(bp)
	return err
}
