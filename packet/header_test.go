package packet

import (
	"bytes"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

func TestHeaderPutParse(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		wire []byte
	}{
		{name: "zero", h: Header{}, wire: []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{name: "ping", h: Header{Length: 8}, wire: []byte{0, 8, 0, 0, 0, 0, 0, 0}},
		{name: "big-endian", h: Header{Length: 0x1234, Code: 0x5678, CRC: 0x9abcdef0}, wire: []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}},
		{name: "all ones", h: Header{Length: 0xffff, Code: 0xffff, CRC: 0xffffffff}, wire: bytes.Repeat([]byte{0xff}, 8)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, HeaderSize+2)
			b[8], b[9] = 0xaa, 0xbb
			tt.h.Put(b)
			if !bytes.Equal(b[:HeaderSize], tt.wire) || b[8] != 0xaa || b[9] != 0xbb {
				t.Fatalf("Put wrote % x", b)
			}
			if got := ParseHeader(tt.wire); got != tt.h {
				t.Fatalf("ParseHeader = %+v, want %+v", got, tt.h)
			}
			if got := tt.h.BodyLen(); got != int(tt.h.Length)-HeaderSize {
				t.Fatalf("BodyLen = %d", got)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		name string
		body string
		want uint32
	}{
		{name: "empty", body: "", want: 0},
		{name: "check value", body: "123456789", want: 0xcbf43926}, // the CRC-32/ISO-HDLC check value
		{name: "fox", body: "The quick brown fox jumps over the lazy dog", want: 0x414fa339},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Checksum([]byte(tt.body)); got != tt.want || got != crc32.ChecksumIEEE([]byte(tt.body)) {
				t.Errorf("Checksum(%q) = %#08x, want %#08x", tt.body, got, tt.want)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		name    string
		dst     []byte
		code    uint16
		body    []byte
		want    []byte // the appended bytes, nil when err
		wantErr error
	}{
		{name: "ping", code: CodePing, want: []byte{0, 8, 0, 0, 0, 0, 0, 0}},
		{name: "after existing bytes", dst: []byte("xy"), code: 7, body: []byte("123456789"),
			want: []byte{0, 17, 0, 7, 0xcb, 0xf4, 0x39, 0x26, '1', '2', '3', '4', '5', '6', '7', '8', '9'}},
		{name: "largest", code: 1, body: make([]byte, MaxPacketLimit-HeaderSize)},
		{name: "one too large", code: 1, body: make([]byte, MaxPacketLimit-HeaderSize+1), wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := string(tt.dst)
			got, err := Append(tt.dst, tt.code, tt.body)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if string(got[:len(prefix)]) != prefix {
				t.Fatalf("prefix clobbered: %q", got)
			}
			if err != nil {
				if len(got) != len(prefix) || !strings.Contains(err.Error(), "65536") {
					t.Fatalf("error %v appended %d bytes", err, len(got)-len(prefix))
				}
				return
			}
			pkt := got[len(prefix):]
			if tt.want != nil && !bytes.Equal(pkt, tt.want) {
				t.Fatalf("appended % x\nwant     % x", pkt, tt.want)
			}
			h := ParseHeader(pkt)
			if int(h.Length) != len(pkt) || h.Code != tt.code || h.CRC != Checksum(tt.body) || !bytes.Equal(pkt[HeaderSize:], tt.body) {
				t.Fatalf("header %+v for %d-byte packet", h, len(pkt))
			}
			enc, err := Encode(tt.code, tt.body)
			if err != nil || !bytes.Equal(enc, pkt) {
				t.Fatalf("Encode differs from Append: %v", err)
			}
		})
	}
}

func TestSeal(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		wantErr error
	}{
		{name: "header only", size: HeaderSize},
		{name: "body", size: 100},
		{name: "largest", size: MaxPacketLimit},
		{name: "short", size: HeaderSize - 1, wantErr: ErrShortPacket},
		{name: "too large", size: MaxPacketLimit + 1, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := make([]byte, tt.size)
			for i := HeaderSize; i < len(pkt); i++ {
				pkt[i] = byte(i * 7)
			}
			orig := bytes.Clone(pkt)
			err := Seal(pkt, 42)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !bytes.Equal(pkt, orig) {
					t.Fatal("Seal wrote despite the error")
				}
				return
			}
			want, _ := Encode(42, orig[HeaderSize:])
			if !bytes.Equal(pkt, want) {
				t.Fatalf("Seal header % x, Encode % x", pkt[:HeaderSize], want[:HeaderSize])
			}
		})
	}
}
