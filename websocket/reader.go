package websocket

import (
	"encoding/binary"
	"sync"
	"unicode/utf8"
)

// msgReader is the receiving half of the protocol: it checks frames
// against RFC 6455 and RFC 7692, unmasks them, validates text, assembles
// fragmented messages and decompresses them. It does no I/O: the server
// (on the event loop) and the client (on its goroutine) hand it frames,
// whole or in pieces, and act on the events it returns. Owned by the
// goroutine reading the connection.
//
// A frame is given either whole (frame), which lets a small unfragmented
// message be delivered in place, without a copy, or as a header (begin)
// followed by pieces of its payload (piece), which is how large frames
// stream into the message buffer as they arrive instead of waiting in the
// connection's inbound buffer. Nothing is held between messages: the
// message buffer is pooled and returned by release.
type msgReader struct {
	lim *limits // immutable, shared by the connections of a Server

	// The message in progress (fragmented, or a streamed frame), and the
	// message being delivered (decompressed in place of the compressed
	// one):
	msg *[]byte // its payload so far (pooled), nil between messages

	// window is the peer's compression context (the last 32 KiB it sent),
	// kept only when it uses context takeover; nil otherwise.
	window *[]byte

	// The frame whose payload is streaming (begin was called):
	remain  int64  // payload bytes still to come
	key     uint32 // its masking key
	maskPos uint8  // position in the key cycle
	fin     bool   // it ends its message

	text       utf8State // incremental validation of uncompressed text
	msgOp      opcode    // opText or opBinary; 0 between messages
	compressed bool      // the message's first frame had RSV1
	server     bool      // frames come from a client: they must be masked; immutable
	deflate    bool      // permessage-deflate was negotiated; immutable
}

// limits are the sizes a reader accepts.
type limits struct {
	maxFrame int64 // largest frame payload
	maxMsg   int64 // largest message (decompressed size)
}

// event is what a frame completed.
type event struct {
	op   opcode // opText, opBinary, opPing, opPong or opClose; 0: nothing yet
	data []byte // the message, or the control frame's payload (for close: the reason)
	code StatusCode
}

// check validates a frame header against the protocol and the reader's
// state. It changes nothing, so a header may be checked again while the
// frame's payload is still arriving.
func (r *msgReader) check(h *frameHeader) *protoError {
	if h.masked != r.server {
		if r.server {
			return errUnmasked
		}
		return errMasked
	}
	if !h.op.known() {
		return errReservedOpcode
	}
	var allowed uint8
	if r.deflate && (h.op == opText || h.op == opBinary) {
		allowed = bitRsv1
	}
	if h.rsv&^allowed != 0 {
		if r.deflate && h.op.isControl() && h.rsv == bitRsv1 {
			return errCompressedCtl
		}
		return errReservedBits
	}
	if h.op.isControl() {
		if h.length > maxControlPayload {
			return errControlLong
		}
		if !h.fin {
			return errControlFrag
		}
		return nil
	}
	switch {
	case h.op == opContinuation && r.msgOp == 0:
		return errContinuation
	case h.op != opContinuation && r.msgOp != 0:
		return errInterleaved
	case h.length > r.lim.maxFrame:
		return errFrameTooBig
	case h.length+r.msgLen() > r.lim.maxMsg:
		return errMessageTooBig
	}
	return nil
}

func (r *msgReader) msgLen() int64 {
	if r.msg == nil {
		return 0
	}
	return int64(len(*r.msg))
}

// streaming reports whether a frame's payload is arriving in pieces.
func (r *msgReader) streaming() bool { return r.remain > 0 }

// frame handles a whole frame that check accepted; payload is its payload,
// which it unmasks in place. The event's data is valid until release, and
// may point into payload.
func (r *msgReader) frame(h *frameHeader, payload []byte) (event, *protoError) {
	if h.masked {
		maskBytes(h.key, 0, payload)
	}
	switch h.op {
	case opClose:
		return closeEvent(payload)
	case opPing, opPong:
		return event{op: h.op, data: payload}, nil
	}
	if h.fin && h.op != opContinuation && h.rsv == 0 {
		// The common case: a whole message in one frame, delivered in place.
		if h.op == opText && !utf8.Valid(payload) {
			return event{}, errTextUTF8
		}
		return event{op: h.op, data: payload}, nil
	}
	r.start(h)
	return r.piece(payload, true)
}

// begin starts a frame whose payload will come in pieces (data frames
// only); h was accepted by check.
func (r *msgReader) begin(h *frameHeader) {
	r.start(h)
	r.remain, r.key, r.maskPos = h.length, h.key, 0
	if !h.masked {
		r.key = 0
	}
}

// start notes a data frame's place in its message.
func (r *msgReader) start(h *frameHeader) {
	r.fin = h.fin
	if h.op != opContinuation {
		r.msgOp = h.op
		r.compressed = h.rsv&bitRsv1 != 0
		r.text.reset()
	}
	if r.msg == nil {
		r.msg = getBuf()
	}
}

// piece appends the next piece of the current frame's payload. whole says
// the piece is the entire payload of a frame passed to frame (already
// unmasked); otherwise it belongs to the frame begin started.
func (r *msgReader) piece(p []byte, whole bool) (event, *protoError) {
	if !whole {
		if r.key != 0 {
			r.maskPos = uint8(maskBytes(r.key, int(r.maskPos), p))
		}
		r.remain -= int64(len(p))
		if r.remain > 0 {
			if r.msgOp == opText && !r.compressed && !r.text.feed(p) {
				return event{}, errTextUTF8
			}
			*r.msg = append(*r.msg, p...)
			return event{}, nil
		}
	}
	if r.msgOp == opText && !r.compressed && !r.text.feed(p) {
		return event{}, errTextUTF8
	}
	*r.msg = append(*r.msg, p...)
	if !r.fin {
		return event{}, nil // more fragments to come
	}
	// The message is complete.
	op, data := r.msgOp, *r.msg
	r.msgOp = 0
	if r.compressed {
		out := getBuf()
		var dict []byte
		if r.window != nil {
			dict = *r.window
		}
		var err error
		*out, err = inflate((*out)[:0], data, dict, r.lim.maxMsg)
		putBuf(r.msg) // the compressed form is done with
		r.msg = out
		if err != nil {
			return event{}, err.(*protoError)
		}
		data = *out
		if r.window != nil {
			*r.window = keepWindow(*r.window, data)
		}
		if op == opText && !utf8.Valid(data) {
			return event{}, errTextUTF8
		}
	} else if op == opText && !r.text.complete() {
		return event{}, errTextUTF8
	}
	return event{op: op, data: data}, nil
}

// release returns the buffers of the message just delivered (or of a
// failed connection's partial message): an idle connection holds none.
func (r *msgReader) release() {
	if r.msgOp != 0 {
		return // a fragmented message is still being assembled
	}
	if r.msg != nil {
		putBuf(r.msg)
		r.msg = nil
	}
}

// discard drops everything (the connection failed or closed).
func (r *msgReader) discard() {
	r.msgOp, r.remain = 0, 0
	r.release()
	r.window = nil
}

// closeEvent validates a close frame's payload (RFC 6455 §5.5.1, §7.4).
func closeEvent(p []byte) (event, *protoError) {
	switch {
	case len(p) == 0:
		return event{op: opClose, code: StatusNoStatusRcvd}, nil
	case len(p) == 1:
		return event{}, errCloseLen
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.Valid() {
		return event{}, errCloseCode
	}
	if !utf8.Valid(p[2:]) {
		return event{}, errCloseUTF8
	}
	return event{op: opClose, code: code, data: p[2:]}, nil
}

// Message buffers: pooled, and dropped instead of pooled above
// maxPooledBuf so that one large message does not pin its memory.
const maxPooledBuf = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte {
	b := bufPool.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
