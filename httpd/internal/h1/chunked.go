package h1

import "bytes"

// Default limits of a ChunkedDecoder, used for its zero fields.
const (
	DefaultMaxChunkLine    = 4 << 10 // 4 KiB
	DefaultMaxTrailerBytes = 8 << 10 // 8 KiB
)

// maxChunkOverhead bounds the non-data bytes (chunk lines and CRLFs) a
// body may carry beyond an allowance of 16 bytes plus twice the data of
// each chunk, as net/http does: without it a client could send kilobytes
// of chunk extensions per byte of data, and body-size limits, which count
// data, would not notice.
const maxChunkOverhead = 16 << 10

type chunkState uint8

const (
	chunkSize    chunkState = iota // expecting a chunk-size line
	chunkData                      // inside chunk data; left > 0
	chunkDataEnd                   // expecting the CRLF after chunk data
	chunkTrailer                   // after the last chunk, in the trailer section
	chunkDone                      // the final CRLF has been consumed
)

// ChunkedDecoder decodes the chunked transfer coding (RFC 9112 §7.1)
// incrementally and without copying: Next returns chunk data as subslices
// of its input. The zero value is ready to use, with default limits.
//
// A ChunkedDecoder is owned by one goroutine (the connection's event
// loop). Set the fields before the first call to Next; Reset keeps them.
type ChunkedDecoder struct {
	// MaxChunkLine is the longest chunk-size line, extensions included,
	// not counting its CRLF. Default DefaultMaxChunkLine (4 KiB); longer
	// is a 400.
	MaxChunkLine int

	// MaxTrailerBytes bounds the trailer section: the bytes after the
	// last-chunk line, through the final CRLF. Default
	// DefaultMaxTrailerBytes (8 KiB); more is a 431.
	MaxTrailerBytes int

	// OnTrailer, if set, is called from Next for each trailer field, in
	// order. name and value alias Next's input and are valid only during
	// the call. Trailer fields are otherwise validated and discarded.
	OnTrailer func(name, value []byte)

	state        chunkState
	left         int64 // data bytes left in the current chunk
	trailerBytes int   // trailer-section bytes consumed so far
	overhead     int64 // see maxChunkOverhead
	err          error // sticky protocol error
}

// Reset prepares d for a new body, keeping its limits and OnTrailer.
func (d *ChunkedDecoder) Reset() {
	d.state, d.left, d.trailerBytes, d.overhead, d.err = chunkSize, 0, 0, 0, nil
}

// Done reports whether the whole body, trailers included, has been
// consumed.
func (d *ChunkedDecoder) Done() bool { return d.state == chunkDone }

// Next decodes from in, the body bytes not yet consumed. It consumes
// chunk lines and CRLFs until it reaches chunk data, the end of the body,
// an error or the end of in, and returns:
//
//   - data: the next piece of body data, a subslice of in (so valid as
//     long as in is), at most the rest of the current chunk. It may be
//     shorter than the chunk: the rest comes in later calls.
//   - consumed: how many bytes at the start of in were used (data
//     included). Drop them, and call Next again with what follows plus
//     any new bytes.
//   - done: the last chunk and the trailer section have been consumed;
//     in[consumed:] is the start of the next request. Once done, Next
//     consumes nothing and returns done again until Reset.
//   - err: nil when data is non-empty or done; ErrIncomplete when
//     nothing more can be decoded from in (consumed may still be > 0);
//     otherwise an *Error (400 for bad syntax, a size that overflows
//     int64, too long a chunk line or too much overhead; 431 for too
//     large a trailer section), after which the connection must be
//     closed. Errors are sticky until Reset.
//
// Next never buffers: an incomplete chunk line is left unconsumed and
// rescanned on the next call, bounded by MaxChunkLine. It does not
// allocate.
func (d *ChunkedDecoder) Next(in []byte) (data []byte, consumed int, done bool, err error) {
	if d.err != nil {
		return nil, 0, false, d.err
	}
	pos := 0
	for {
		switch d.state {
		case chunkSize:
			size, n, err := d.sizeLine(in[pos:])
			if err != nil {
				return nil, pos, false, d.fail(err)
			}
			pos += n
			if size == 0 {
				d.state = chunkTrailer
			} else {
				d.left, d.state = size, chunkData
			}
		case chunkData:
			if pos == len(in) {
				return nil, pos, false, ErrIncomplete
			}
			k := len(in) - pos
			if int64(k) >= d.left {
				k = int(d.left)
				d.state = chunkDataEnd
			}
			d.left -= int64(k)
			return in[pos : pos+k], pos + k, false, nil
		case chunkDataEnd:
			// Exactly CRLF: RFC 9112 §2.2 lets a bare LF end only the
			// start line and field lines (erratum 7633).
			if pos == len(in) {
				return nil, pos, false, ErrIncomplete
			}
			if in[pos] != '\r' {
				if in[pos] == '\n' {
					return nil, pos, false, d.fail(errChunkBareLF)
				}
				return nil, pos, false, d.fail(errChunkDataEnd)
			}
			if pos+1 == len(in) {
				return nil, pos, false, ErrIncomplete
			}
			if in[pos+1] != '\n' {
				return nil, pos, false, d.fail(errChunkDataEnd)
			}
			pos += 2
			d.state = chunkSize
		case chunkTrailer:
			n, end, err := d.trailerLine(in[pos:])
			if err != nil {
				return nil, pos, false, d.fail(err)
			}
			pos += n
			d.trailerBytes += n
			if end {
				d.state = chunkDone
			}
		case chunkDone:
			return nil, pos, true, nil
		}
	}
}

func (d *ChunkedDecoder) fail(err error) error {
	if err != ErrIncomplete {
		d.err = err
	}
	return err
}

// sizeLine parses the chunk-size line at the start of b and returns the
// size and the line's length with its CRLF. As with the request line, a
// syntax error in the first MaxChunkLine bytes wins over the length limit,
// so the answer does not depend on how the body was split.
func (d *ChunkedDecoder) sizeLine(b []byte) (size int64, n int, err error) {
	maxLine := d.MaxChunkLine
	if maxLine <= 0 {
		maxLine = DefaultMaxChunkLine
	}
	win := b
	if len(win) > maxLine+2 {
		win = win[:maxLine+2]
	}
	i := bytes.IndexByte(win, '\n')
	line := win
	if i >= 0 {
		line = win[:i]
	}
	cr := len(line) > 0 && line[len(line)-1] == '\r'
	if cr {
		line = line[:len(line)-1]
	}
	if len(line) > maxLine {
		if _, err := scanChunkLine(line[:maxLine], false); err != nil {
			return 0, 0, err
		}
		return 0, 0, errChunkLineTooLong
	}
	if i < 0 {
		if _, err := scanChunkLine(line, false); err != nil {
			return 0, 0, err
		}
		return 0, 0, ErrIncomplete
	}
	if size, err = scanChunkLine(line, true); err != nil {
		return 0, 0, err
	}
	if !cr {
		return 0, 0, errChunkBareLF
	}
	d.overhead += int64(len(line)) + 2 // the line, and the CRLF after the data
	if size >= maxChunkOverhead {
		d.overhead = 0
	} else {
		d.overhead = max(d.overhead-16-2*size, 0)
	}
	if d.overhead > maxChunkOverhead {
		return 0, 0, errChunkOverhead
	}
	return size, i + 1, nil
}

// scanChunkLine checks a chunk-size line without its CRLF:
//
//	chunk-size [ chunk-ext ]
//	chunk-size = 1*HEXDIG
//	chunk-ext  = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//	ext-val    = token / quoted-string
//
// and returns the size. If complete is false line is a prefix: only
// errors that no continuation could repair are reported.
func scanChunkLine(line []byte, complete bool) (int64, error) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		v := unhex(line[i])
		if v < 0 {
			break
		}
		if size > (1<<63-1-v)/16 {
			return 0, errChunkSizeOverflow
		}
		size = size*16 + v
	}
	if i == len(line) {
		if i == 0 && complete {
			return 0, errChunkSize
		}
		return size, nil
	}
	switch c := line[i]; {
	case c == '\r':
		return 0, errBareCR
	case i == 0 || !isOWS(c) && c != ';':
		return 0, errChunkSize
	}
	if err := scanChunkExt(line[i:], complete); err != nil {
		return 0, err
	}
	return size, nil
}

// States of scanChunkExt. The comments say whether the line may end there.
const (
	extEnd        = iota // after the size or a whole extension: may end
	extBWS               // whitespace seen, ';' must follow: may not end
	extBeforeName        // after ';': may not end
	extName              // in ext-name: may end
	extAfterName         // whitespace after ext-name: may not end
	extBeforeVal         // after '=': may not end
	extToken             // in a token ext-val: may end
	extQuoted            // in a quoted-string: may not end
	extQuotedPair        // after '\' in a quoted-string: may not end
)

func scanChunkExt(ext []byte, complete bool) error {
	st := extEnd
	for _, c := range ext {
		if c == '\r' {
			return errBareCR
		}
		ows, tok := isOWS(c), isToken(c)
		switch st {
		case extEnd, extBWS:
			switch {
			case ows:
				st = extBWS
			case c == ';':
				st = extBeforeName
			default:
				return errChunkExtension
			}
		case extBeforeName:
			switch {
			case ows:
			case tok:
				st = extName
			default:
				return errChunkExtension
			}
		case extName, extAfterName:
			switch {
			case tok && st == extName:
			case ows:
				st = extAfterName
			case c == '=':
				st = extBeforeVal
			case c == ';':
				st = extBeforeName
			default:
				return errChunkExtension
			}
		case extBeforeVal:
			switch {
			case ows:
			case c == '"':
				st = extQuoted
			case tok:
				st = extToken
			default:
				return errChunkExtension
			}
		case extToken:
			switch {
			case tok:
			case ows:
				st = extBWS
			case c == ';':
				st = extBeforeName
			default:
				return errChunkExtension
			}
		case extQuoted:
			switch {
			case c == '"':
				st = extEnd
			case c == '\\':
				st = extQuotedPair
			case c == '\t' || c >= 0x20 && c != 0x7f: // qdtext
			default:
				return errChunkExtension
			}
		case extQuotedPair:
			if c != '\t' && (c < 0x20 || c == 0x7f) {
				return errChunkExtension
			}
			st = extQuoted
		}
	}
	if complete && st != extEnd && st != extName && st != extToken {
		return errChunkExtension
	}
	return nil
}

// trailerLine consumes one line of the trailer section at the start of b
// and reports whether it was the final empty line.
func (d *ChunkedDecoder) trailerLine(b []byte) (n int, end bool, err error) {
	room := d.MaxTrailerBytes
	if room <= 0 {
		room = DefaultMaxTrailerBytes
	}
	room -= d.trailerBytes
	more := ErrIncomplete
	if len(b) >= room {
		// The section cannot end within the limit unless it does so in
		// the first room bytes.
		b, more = b[:max(room, 0)], errTrailerTooLarge
	}
	if len(b) == 0 {
		return 0, false, more
	}
	switch b[0] {
	case '\r':
		if len(b) < 2 {
			return 0, false, more
		}
		if b[1] != '\n' {
			return 0, false, errBareCR
		}
		return 2, true, nil
	case '\n':
		return 0, false, errChunkBareLF
	}
	name, value, next, err := fieldLine(b, 0, false)
	if err != nil {
		if err == ErrIncomplete {
			err = more
		}
		return 0, false, err
	}
	if d.OnTrailer != nil {
		d.OnTrailer(name, value)
	}
	return next, false, nil
}
