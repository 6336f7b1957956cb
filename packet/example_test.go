package packet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"wharf/buffer"
	"wharf/packet"
)

// bufferSource adapts a *buffer.Buffer, the engine's inbound buffer, to
// packet.Source, as the engine's connections do.
type bufferSource struct{ *buffer.Buffer }

func (s bufferSource) InboundBuffered() int { return s.Len() }

func ExampleEncode() {
	pkt, err := packet.Encode(6, []byte(`{"username":"alice","password":"correct horse"}`))
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", pkt[:packet.HeaderSize])
	fmt.Printf("%s\n", pkt[packet.HeaderSize:])
	// Output:
	// 00 37 00 06 0c a0 1f 1e
	// {"username":"alice","password":"correct horse"}
}

// Append encodes into a buffer the caller reuses, so a steady stream of
// packets allocates nothing.
func ExampleAppend() {
	var out []byte
	out, _ = packet.Append(out[:0], packet.CodePing, nil)
	out, _ = packet.Append(out, 7, []byte(`{"text":"hi"}`))
	fmt.Println(len(out), "bytes:", out[:packet.HeaderSize])

	_, err := packet.Append(nil, 7, make([]byte, packet.MaxPacketLimit))
	fmt.Println(err)
	// Output:
	// 29 bytes: [0 8 0 0 0 0 0 0]
	// packet: too large to encode: 65543 bytes, limit 65535
}

// Seal fills in the header after the body was appended in place.
func ExampleSeal() {
	buf := []byte("earlier packets...")
	start := len(buf)
	buf = append(buf, make([]byte, packet.HeaderSize)...) // room for the header
	buf = append(buf, `{"ok":true,"user_id":`...)
	buf = strconv.AppendInt(buf, 42, 10)
	buf = append(buf, '}')
	if err := packet.Seal(buf[start:], 5); err != nil {
		panic(err)
	}
	h := packet.ParseHeader(buf[start:])
	fmt.Println(h.Length, h.Code, h.BodyLen())
	// Output: 32 5 24
}

func ExampleParseHeader() {
	h := packet.ParseHeader([]byte{0x00, 0x0c, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44, 'b', 'o', 'd', 'y'})
	fmt.Printf("length %d, code %d, crc %#08x, body %d bytes\n", h.Length, h.Code, h.CRC, h.BodyLen())
	// Output: length 12, code 7, crc 0x11223344, body 4 bytes
}

func ExampleHeader_Put() {
	var b [packet.HeaderSize]byte
	packet.Header{Length: 8, Code: packet.CodePing}.Put(b[:])
	fmt.Printf("% x\n", b)
	// Output: 00 08 00 00 00 00 00 00
}

func ExampleChecksum() {
	fmt.Printf("%#08x %#08x\n", packet.Checksum(nil), packet.Checksum([]byte("123456789")))
	// Output: 0x00000000 0xcbf43926
}

// The server's read callback: decode every complete packet, skip packets
// with a bad CRC, close the connection on a fatal error.
func ExampleDecoder_Next() {
	in := bufferSource{buffer.New(nil)} // in the server: the engine.Conn
	var d packet.Decoder                // one per connection

	stream, _ := packet.Encode(5, []byte(`{"username":"bob","password":"hunter22"}`))
	stream, _ = packet.Append(stream, packet.CodePing, nil)
	in.Write(stream[:20]) // the first read ends mid-packet

	onRead := func() {
		for {
			code, body, err := d.Next(in)
			switch {
			case err == packet.ErrIncomplete:
				return // wait for more bytes
			case packet.Fatal(err):
				fmt.Println("close:", err)
				return
			case err != nil:
				fmt.Println("dropped:", err)
				continue
			}
			// body is valid until the next call on in: copy it or handle it now.
			fmt.Printf("code %d [%s]\n", code, body)
		}
	}
	onRead()
	fmt.Println("waiting, buffered:", in.InboundBuffered())
	in.Write(stream[20:])
	onRead()
	in.Write([]byte{0, 3, 0, 0, 0, 0, 0, 0}) // a length below 8
	onRead()
	// Output:
	// waiting, buffered: 20
	// code 5 [{"username":"bob","password":"hunter22"}]
	// code 0 []
	// close: packet: length 3 out of range [8, 16384]
}

func ExampleDecoder_BadPackets() {
	in := bufferSource{buffer.New(nil)}
	d := packet.Decoder{MaxBadPackets: 2}
	for _, c := range []byte("ab") {
		bad := []byte{0, 9, 0, 5, 0, 0, 0, 0, c} // CRC 0 does not match the body
		in.Write(bad)
		_, _, err := d.Next(in)
		fmt.Println(d.BadPackets(), packet.Fatal(err), err)
	}
	// Output:
	// 1 false packet: checksum mismatch in packet code 5: header 0x00000000, body 0xe8b7be43
	// 2 true packet: too many bad packets: 2 checksum mismatches, last: packet: checksum mismatch in packet code 5: header 0x00000000, body 0x71beeff9
}

func ExampleFatal() {
	for _, err := range []error{
		packet.ErrIncomplete,
		&packet.ChecksumError{Code: 5, Want: 1, Got: 2},
		&packet.LengthError{Length: 3, Max: packet.DefaultMaxPacket},
		packet.ErrTooManyBadPackets,
		io.EOF,
	} {
		fmt.Println(packet.Fatal(err), err)
	}
	// Output:
	// false packet: incomplete
	// false packet: checksum mismatch in packet code 5: header 0x00000001, body 0x00000002
	// true packet: length 3 out of range [8, 16384]
	// true packet: too many bad packets
	// true EOF
}

// A blocking client: WritePacket sends a request, a Reader reads replies.
func ExampleReader_ReadPacket() {
	client, server := net.Pipe()
	go func() { // a toy server answering one ping
		defer server.Close()
		r := packet.NewReader(server)
		code, _, err := r.ReadPacket()
		if err == nil {
			packet.WritePacket(server, code, nil)
		}
	}()

	if err := packet.WritePacket(client, packet.CodePing, nil); err != nil {
		panic(err)
	}
	r := packet.NewReader(client)
	code, body, err := r.ReadPacket()
	fmt.Println(code, len(body), err)
	_, _, err = r.ReadPacket()
	fmt.Println(err)
	client.Close()
	// Output:
	// 0 0 <nil>
	// EOF
}

func ExampleNewReader() {
	stream, _ := packet.Encode(8, []byte(`{"from":"alice","text":"hi","ts":1700000000000}`))
	stream = append(stream, 0xff, 0xff) // a truncated header
	r := packet.NewReader(bytes.NewReader(stream))
	r.MaxPacket = packet.MaxPacketLimit // accept anything that can be encoded
	for {
		code, body, err := r.ReadPacket()
		if err != nil {
			fmt.Println(err, errors.Is(err, io.ErrUnexpectedEOF))
			break
		}
		fmt.Printf("%d %s\n", code, body)
	}
	// Output:
	// 8 {"from":"alice","text":"hi","ts":1700000000000}
	// unexpected EOF true
}

func ExampleWritePacket() {
	var conn bytes.Buffer // in a client: a net.Conn
	if err := packet.WritePacket(&conn, 7, []byte(`{"text":"hello"}`)); err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", conn.Bytes())
	// Output: 00 18 00 07 89 dc aa 3c 7b 22 74 65 78 74 22 3a 22 68 65 6c 6c 6f 22 7d
}

// A pooled connection object reuses its Decoder: Reset forgets the old
// connection's fatal error and bad-packet count and keeps the limits.
func ExampleDecoder_Reset() {
	d := packet.Decoder{MaxPacket: 1024}
	in := bufferSource{buffer.New(nil)}
	in.Write([]byte{0xff, 0xff, 0, 0, 0, 0, 0, 0})
	d.Next(in)
	fmt.Println(d.Err())

	d.Reset()
	in.Reset() // the new connection's bytes
	ping, _ := packet.Encode(packet.CodePing, nil)
	in.Write(ping)
	_, _, err := d.Next(in)
	fmt.Println(d.Err(), err, d.MaxPacket)
	// Output:
	// packet: length 65535 out of range [8, 1024]
	// <nil> <nil> 1024
}

func ExampleReader_Buffered() {
	stream, _ := packet.Encode(7, []byte(`{"text":"one"}`))
	stream, _ = packet.Append(stream, 7, []byte(`{"text":"two"}`))
	r := packet.NewReader(bytes.NewReader(stream))
	r.ReadPacket() // one Read fetched both packets
	fmt.Println(r.Buffered(), r.BadPackets())
	// Output: 22 0
}
