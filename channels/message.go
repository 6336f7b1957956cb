package channels

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
)

// Kind says what a Message is.
type Kind uint8

const (
	// KindPublication is data published to a channel.
	KindPublication Kind = iota + 1
	// KindJoin says a user's first connection subscribed to a channel.
	KindJoin
	// KindLeave says a user's last connection left a channel.
	KindLeave
	// KindDirect is data sent to every connection of one user.
	KindDirect
)

var kindNames = [...]string{KindPublication: "publication", KindJoin: "join", KindLeave: "leave", KindDirect: "direct"}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Message is what the Hub delivers: a publication, a join or leave event,
// or a direct message. The Encoder turns it into wire bytes; a Broker
// carries it between nodes.
//
// A Message handed to an Encoder, a Broker or a Receiver is borrowed for
// the call: keep nothing of it after returning, or copy it (Data
// especially, which may alias a request buffer).
type Message struct {
	Kind Kind
	// Channel is the channel of a publication, join or leave.
	Channel string
	// User is who joined or left (join, leave), or the recipient (direct).
	User string
	// From is the user who published or sent it; "" for the backend or an
	// anonymous connection.
	From string
	// Offset and Epoch place a publication in its channel's history; both
	// are zero in a namespace without history. Offsets start at 1 and
	// increase by 1 per publication within an epoch.
	Offset uint64
	Epoch  string
	// Time is when it was published, in Unix milliseconds.
	Time int64
	// Data is the application's payload (JSON in wharf's protocols) of a
	// publication or direct message. It is opaque to the Hub.
	Data []byte
}

// Position is a place in a channel's history: the offset of the last
// publication a client saw, and the epoch it belongs to. A client keeps the
// Position of each channel and sends it back when it resubscribes after a
// reconnect, to recover what it missed.
//
// The zero Position means "nothing seen yet": recovering from it succeeds
// when the history still holds the channel's publications from offset 1.
type Position struct {
	Offset uint64
	Epoch  string
}

// Position returns the message's place in its channel's history.
func (m *Message) Position() Position { return Position{Offset: m.Offset, Epoch: m.Epoch} }

// binaryVersion is the first byte of the binary form, so a later format
// can be told apart (nodes of two versions may share a broker during an
// upgrade).
const binaryVersion = 1

// AppendBinary appends m's binary form, for brokers, to b: a version byte,
// the kind, the offset and time as varints, then Channel, User, From,
// Epoch and Data, each as a uvarint length and its bytes. It implements
// encoding.BinaryAppender and never fails.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, binaryVersion, byte(m.Kind))
	b = binary.AppendUvarint(b, m.Offset)
	b = binary.AppendVarint(b, m.Time)
	for _, s := range [...]string{m.Channel, m.User, m.From, m.Epoch} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Data)))
	return append(b, m.Data...), nil
}

// UnmarshalBinary decodes what AppendBinary wrote. It copies what it keeps
// (m.Data does not alias b) and fails with ErrBadMessage on anything else,
// trailing bytes included.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < 2 || b[0] != binaryVersion {
		return ErrBadMessage
	}
	k := Kind(b[1])
	if k < KindPublication || k > KindDirect {
		return ErrBadMessage
	}
	b = b[2:]
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return ErrBadMessage
	}
	b = b[n:]
	ts, n := binary.Varint(b)
	if n <= 0 {
		return ErrBadMessage
	}
	b = b[n:]
	var fields [5][]byte
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return ErrBadMessage
		}
		fields[i], b = b[n:n+int(l)], b[n+int(l):]
	}
	if len(b) != 0 {
		return ErrBadMessage
	}
	*m = Message{
		Kind: k, Offset: off, Time: ts,
		Channel: string(fields[0]), User: string(fields[1]), From: string(fields[2]), Epoch: string(fields[3]),
	}
	if len(fields[4]) > 0 {
		m.Data = append([]byte(nil), fields[4]...)
	}
	return nil
}

// AppendJSON appends the JSON body of m as packet/SPEC.md section 8
// specifies it for pushes, to dst, allocating only if dst
// lacks room:
//
//	publication  {"channel":"room:1","offset":5,"epoch":"k3j9","from":"42","ts":1700000000000,"data":<Data>}
//	join, leave  {"channel":"room:1","user":"42"}
//	direct       {"from":"42","ts":1700000000000,"data":<Data>}
//
// offset and epoch are left out in a namespace without history, and from
// when it is "". Data is copied as is: it must be valid JSON (the protocol
// handlers check what clients send). A protocol encoder frames this body
// (for the packet protocol: packet.Seal around it, with the push's code).
func AppendJSON(dst []byte, m *Message) []byte {
	dst = append(dst, '{')
	if m.Kind != KindDirect {
		dst = append(dst, `"channel":`...)
		dst = appendJSONString(dst, m.Channel)
		dst = append(dst, ',')
	}
	if m.Kind == KindJoin || m.Kind == KindLeave {
		dst = append(dst, `"user":`...)
		dst = appendJSONString(dst, m.User)
		return append(dst, '}')
	}
	if m.Offset > 0 {
		dst = append(dst, `"offset":`...)
		dst = strconv.AppendUint(dst, m.Offset, 10)
		dst = append(dst, `,"epoch":`...)
		dst = appendJSONString(dst, m.Epoch)
		dst = append(dst, ',')
	}
	if m.From != "" {
		dst = append(dst, `"from":`...)
		dst = appendJSONString(dst, m.From)
		dst = append(dst, ',')
	}
	dst = append(dst, `"ts":`...)
	dst = strconv.AppendInt(dst, m.Time, 10)
	dst = append(dst, `,"data":`...)
	if len(m.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.Data...)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. Names, epochs and the user
// IDs of wharf's accounts need no escaping and take the fast path; any
// other string (from a Broker, say) goes through encoding/json, which
// allocates.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !nameChars[s[i]] && s[i] != NamespaceSeparator {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
