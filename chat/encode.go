package chat

import (
	"fmt"

	"wharf/channels"
	"wharf/packet"
)

// PacketEncoder is the packet protocol's encoding of what the channels Hub
// delivers: one packet per message, whose code says what it is
// (CodePublication, CodeJoin, CodeLeave, CodeDirect) and whose body is
// channels.AppendJSON's (packet/SPEC.md section 8.2). The App gives it to
// its Hub; every transport that carries packets (TCP, KCP, WebSocket)
// writes the bytes as they are, and the web app's event streams cut the
// bodies out of them.
var PacketEncoder channels.Encoder = channels.EncoderFunc(appendPacket)

// pushCodes are the codes of the messages the Hub delivers, by kind.
var pushCodes = [...]uint16{
	channels.KindPublication: CodePublication,
	channels.KindJoin:        CodeJoin,
	channels.KindLeave:       CodeLeave,
	channels.KindDirect:      CodeDirect,
}

// appendPacket encodes m after dst without copying its body: the header
// is reserved, the JSON appended behind it, and packet.Seal fills it in.
func appendPacket(dst []byte, m *channels.Message) ([]byte, error) {
	if int(m.Kind) >= len(pushCodes) || pushCodes[m.Kind] == 0 {
		return dst, fmt.Errorf("chat: no packet code for message kind %v", m.Kind)
	}
	start := len(dst)
	dst = append(dst, make([]byte, packet.HeaderSize)...)
	dst = channels.AppendJSON(dst, m)
	if err := packet.Seal(dst[start:], pushCodes[m.Kind]); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// Bodies calls fn with the code and JSON body of each packet in p, which
// holds whole packets back to back as PacketEncoder makes them (what the
// Hub hands a Subscriber), and reports whether p was well formed: for
// transports that carry the bodies without the packets' framing (the web
// app's event streams). The bodies alias p, which the Hub never modifies.
func Bodies(p []byte, fn func(code uint16, body []byte)) bool {
	for len(p) >= packet.HeaderSize {
		n := int(p[0])<<8 | int(p[1])
		if n < packet.HeaderSize || n > len(p) {
			return false
		}
		fn(uint16(p[2])<<8|uint16(p[3]), p[packet.HeaderSize:n])
		p = p[n:]
	}
	return len(p) == 0
}
