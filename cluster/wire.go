package cluster

import (
	"encoding/binary"
	"math"
	"time"

	"wharf/channels"
)

// The wire format; SPEC.md describes it for other implementations.

// wireVersion is the first byte of every message a Node sends, so a later
// format can be told apart (nodes of two versions share the broker during
// a rolling upgrade; a node drops what it cannot read, counted as
// Malformed).
const wireVersion = 1

// appendEnvelope appends a publication or direct message as it travels on
// <prefix>.pub.* and <prefix>.user.*: the version, the sender's
// incarnation (8 bytes, big-endian), the send time in Unix microseconds as
// a varint (for the receivers' lag), then the message's binary form
// (channels.Message.AppendBinary).
func appendEnvelope(dst []byte, inc uint64, sentUs int64, m *channels.Message) []byte {
	dst = append(dst, wireVersion)
	dst = binary.BigEndian.AppendUint64(dst, inc)
	dst = binary.AppendVarint(dst, sentUs)
	dst, _ = m.AppendBinary(dst) // never fails
	return dst
}

// envelopeSize bounds the bytes appendEnvelope adds around m's fields.
func envelopeSize(m *channels.Message) int {
	return 1 + 8 + binary.MaxVarintLen64 + 2 + 3*binary.MaxVarintLen64 + 5*binary.MaxVarintLen32 +
		len(m.Channel) + len(m.User) + len(m.From) + len(m.Epoch) + len(m.Data)
}

// parseEnvelope decodes what appendEnvelope wrote into m, which keeps no
// reference to b.
func parseEnvelope(b []byte, m *channels.Message) (inc uint64, sentUs int64, err error) {
	if len(b) < 1+8 || b[0] != wireVersion {
		return 0, 0, ErrMalformed
	}
	inc = binary.BigEndian.Uint64(b[1:9])
	sentUs, n := binary.Varint(b[9:])
	if n <= 0 {
		return 0, 0, ErrMalformed
	}
	if err := m.UnmarshalBinary(b[9+n:]); err != nil {
		return 0, 0, ErrMalformed
	}
	return inc, sentUs, nil
}

// ctlType is the kind of a control message: what a node says about itself
// on <prefix>.node.<node>, asks on <prefix>.sync.<node>, or answers.
type ctlType uint8

const (
	// ctlHello: a node started or reconnected. Like ctlAlive, and every
	// node that hears it answers with a ctlAlive at once, so the new node
	// learns the cluster without waiting a heartbeat.
	ctlHello ctlType = iota + 1
	// ctlAlive is a heartbeat: the sender lives, its presence deltas are
	// numbered up to seq, and it counts as dead if silent for deadAfter.
	ctlAlive
	// ctlDelta carries presence changes: entries give the new connection
	// counts (0: gone) of (channel, user) pairs on the sender; seq numbers
	// deltas 1, 2, 3... within an incarnation.
	ctlDelta
	// ctlBye: the node is shutting down; forget its presence now.
	ctlBye
	// ctlSync asks the node named in the subject, of incarnation target,
	// for its presence snapshot, sent to the request's reply subject.
	ctlSync
	// ctlSnapshot is one part of a snapshot: the sender's whole presence
	// table as of delta seq, split into parts 0, 1, ... the last marked.
	ctlSnapshot
	numCtlTypes
)

var ctlNames = [...]string{ctlHello: "hello", ctlAlive: "alive", ctlDelta: "delta", ctlBye: "bye", ctlSync: "sync", ctlSnapshot: "snapshot"}

func (t ctlType) String() string {
	if t > 0 && t < numCtlTypes {
		return ctlNames[t]
	}
	return "ctlType(?)"
}

// entry is one (channel, user) pair's connection count on a node.
type entry struct {
	channel, user string
	conns         int32
}

// ctlMsg is a control message. Fields a type does not use are zero.
type ctlMsg struct {
	typ  ctlType
	node string // the sender's name
	inc  uint64 // the sender's incarnation: random, new at each start
	seq  uint64 // hello, alive, delta, snapshot: the sender's delta number

	// hello, alive
	deadAfter time.Duration // declare the sender dead after this silence
	started   int64         // when the sender started, Unix milliseconds
	conns     int64         // the sender's open connections (Config.Connections), -1 unknown

	// sync: the incarnation asked (other incarnations of its name ignore it)
	target uint64

	// delta, snapshot
	entries []entry
	// snapshot
	part uint64
	last bool
}

// appendBinary appends c's wire form: the version, the type, the node
// name (uvarint length and bytes), the incarnation (8 bytes, big-endian),
// seq (uvarint), then by type:
//
//	hello, alive  dead_after_ms (uvarint) started_ms (varint) conns (varint)
//	delta         count (uvarint) entries
//	snapshot      part (uvarint) last (1 byte, 0 or 1) count (uvarint) entries
//	sync          target incarnation (8 bytes, big-endian)
//	bye           nothing
//
// An entry is the channel and the user (each a uvarint length and bytes)
// and the connection count (uvarint).
func (c *ctlMsg) appendBinary(dst []byte) []byte {
	dst = append(dst, wireVersion, byte(c.typ))
	dst = appendString(dst, c.node)
	dst = binary.BigEndian.AppendUint64(dst, c.inc)
	dst = binary.AppendUvarint(dst, c.seq)
	switch c.typ {
	case ctlHello, ctlAlive:
		dst = binary.AppendUvarint(dst, uint64(c.deadAfter.Milliseconds()))
		dst = binary.AppendVarint(dst, c.started)
		dst = binary.AppendVarint(dst, c.conns)
	case ctlSync:
		dst = binary.BigEndian.AppendUint64(dst, c.target)
	case ctlSnapshot:
		dst = binary.AppendUvarint(dst, c.part)
		last := byte(0)
		if c.last {
			last = 1
		}
		dst = append(dst, last)
		fallthrough
	case ctlDelta:
		dst = binary.AppendUvarint(dst, uint64(len(c.entries)))
		for _, e := range c.entries {
			dst = appendEntry(dst, e)
		}
	}
	return dst
}

func appendEntry(dst []byte, e entry) []byte {
	dst = appendString(dst, e.channel)
	dst = appendString(dst, e.user)
	return binary.AppendUvarint(dst, uint64(e.conns))
}

// entrySize is the wire size of e.
func entrySize(e entry) int {
	return uvarintLen(uint64(len(e.channel))) + len(e.channel) + uvarintLen(uint64(len(e.user))) + len(e.user) + uvarintLen(uint64(e.conns))
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// parse decodes what appendBinary wrote. It fails with ErrMalformed on
// anything else, trailing bytes included. The strings it keeps are copies.
func (c *ctlMsg) parse(b []byte) error {
	r := reader{b: b}
	if r.byte() != wireVersion {
		return ErrMalformed
	}
	*c = ctlMsg{typ: ctlType(r.byte())}
	if c.typ == 0 || c.typ >= numCtlTypes {
		return ErrMalformed
	}
	c.node = r.string()
	c.inc = r.uint64()
	c.seq = r.uvarint()
	switch c.typ {
	case ctlHello, ctlAlive:
		ms := r.uvarint()
		if ms > math.MaxInt64/uint64(time.Millisecond) {
			r.bad = true
		}
		c.deadAfter = time.Duration(ms) * time.Millisecond
		c.started = r.varint()
		c.conns = r.varint()
	case ctlSync:
		c.target = r.uint64()
	case ctlSnapshot:
		c.part = r.uvarint()
		switch r.byte() {
		case 0:
		case 1:
			c.last = true
		default:
			r.bad = true
		}
		fallthrough
	case ctlDelta:
		n := r.uvarint()
		if n > uint64(len(r.b)) { // each entry takes at least 3 bytes
			return ErrMalformed
		}
		c.entries = make([]entry, 0, n)
		for range n {
			e := entry{channel: r.string(), user: r.string()}
			conns := r.uvarint()
			if conns > math.MaxInt32 {
				r.bad = true
			}
			e.conns = int32(conns)
			if r.bad {
				return ErrMalformed
			}
			c.entries = append(c.entries, e)
		}
	}
	if r.bad || len(r.b) != 0 {
		return ErrMalformed
	}
	return nil
}

// reader reads the wire format; a short or bad read sets bad (sticky) and
// returns zeros.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	l := r.uvarint()
	if r.bad || l > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:l])
	r.b = r.b[l:]
	return s
}
