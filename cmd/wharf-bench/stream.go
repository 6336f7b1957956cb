package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"wharf/internal/loadgen"
	"wharf/kcp"
	"wharf/packet"
	"wharf/websocket"
)

// streamBench is packet -mix ping over a transport whose client side is a
// net.Conn byte stream (a KCP session, a WebSocket connection's binary
// messages): -depth pings in flight per connection, one goroutine per
// connection (loadgen.Streams) reading replies. The transport is the
// kcp and ws subcommands' difference: their flags, and the dial.
type streamBench struct {
	*loadgen.Meter
	o       *loadgen.Options
	streams loadgen.Streams
	depth   int
	ping    []byte
	batch   []byte // -depth pings back to back
	t       streamTransport

	// dial opens a connection; the transport's unless a test replaces it.
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

// streamTransport is what a stream subcommand adds to streamBench.
type streamTransport struct {
	unit        string // "session", "connection": for flag help
	defaultAddr string
	flags       func(fs *flag.FlagSet)
	// setup validates the transport's flags and returns its dial.
	setup func(o *loadgen.Options) (func(ctx context.Context, addr string) (net.Conn, error), error)
}

func newStream(o *loadgen.Options, t streamTransport) *streamBench {
	k := &streamBench{Meter: loadgen.NewMeter(o), o: o, t: t}
	k.streams = loadgen.Streams{
		Meter: k.Meter,
		Dial:  func(ctx context.Context, i int) (net.Conn, error) { return k.dial(ctx, o.Addrs[i%len(o.Addrs)]) },
		Serve: k.serve,
	}
	return k
}

// newKCP is the kcp subcommand: sessions of kcp.Dial. KCP has no close
// handshake: a session the server dropped shows as replies that stop
// coming (drop:reply_timeout after -timeout), and is redialed.
func newKCP(o *loadgen.Options) loadgen.Bench {
	var mode string
	return newStream(o, streamTransport{
		unit:        "session",
		defaultAddr: "127.0.0.1:7001",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&mode, "mode", "fast", "KCP mode: default, normal or fast (as the server's [kcp] mode)")
		},
		setup: func(o *loadgen.Options) (func(context.Context, string) (net.Conn, error), error) {
			if len(o.Srcs) > 0 {
				return nil, fmt.Errorf("-src is not supported for kcp (each session has its own UDP socket)")
			}
			if o.TLS {
				return nil, fmt.Errorf("-tls is not supported for kcp (KCP runs over UDP)")
			}
			m, err := kcp.ParseMode(mode)
			if err != nil {
				return nil, fmt.Errorf("-mode: %w", err)
			}
			cfg := kcp.Config{Mode: m}
			return func(ctx context.Context, addr string) (net.Conn, error) { return kcp.Dial(ctx, addr, cfg) }, nil
		},
	})
}

// newWS is the ws subcommand: the packet protocol over WebSocket
// (ws://ADDR/ws, subprotocol wharf.packet.v1), one binary message per
// write; -src binds source addresses as for TCP.
func newWS(o *loadgen.Options) loadgen.Bench {
	var path string
	var compress bool
	return newStream(o, streamTransport{
		unit:        "connection",
		defaultAddr: "127.0.0.1:8080",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&path, "path", "/ws", "the WebSocket endpoint's path")
			fs.BoolVar(&compress, "compress", false, "offer permessage-deflate")
		},
		setup: func(o *loadgen.Options) (func(context.Context, string) (net.Conn, error), error) {
			opts := websocket.DialOptions{Subprotocols: []string{packet.WebSocketSubprotocol}, Compression: compress}
			scheme := "ws://"
			if o.TLS { // wss://, verified as -tls says
				host, _, _ := net.SplitHostPort(o.Addrs[0])
				tc, err := o.TLSConfig(host)
				if err != nil {
					return nil, err
				}
				opts.TLSConfig, scheme = tc, "wss://"
			}
			srcs := o.Srcs
			var next atomic.Uint64
			if len(srcs) > 0 {
				opts.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
					d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(srcs[next.Add(1)%uint64(len(srcs))].AsSlice())}}
					return d.DialContext(ctx, network, addr)
				}
			}
			dial := websocket.StreamDialer(opts)
			return func(ctx context.Context, addr string) (net.Conn, error) {
				return dial(ctx, "ws", scheme+addr+path)
			}, nil
		},
	})
}

func (k *streamBench) Flags(fs *flag.FlagSet) {
	k.o.Flags(fs, k.t.defaultAddr, false, 0)
	k.t.flags(fs)
	fs.IntVar(&k.depth, "depth", 1, "pings in flight per "+k.t.unit)
}

func (k *streamBench) Setup() error {
	if k.depth < 1 {
		return fmt.Errorf("-depth must be at least 1, got %d", k.depth)
	}
	dial, err := k.t.setup(k.o)
	if err != nil {
		return err
	}
	if k.dial == nil {
		k.dial = dial
	}
	k.ping, _ = packet.Encode(packet.CodePing, nil)
	k.batch = bytes.Repeat(k.ping, k.depth)
	return nil
}

func (k *streamBench) Start(ctx context.Context) error {
	k.Init(k.o.Conns)
	k.streams.Start(ctx)
	return nil
}

// serve pings on nc until it fails or the run stops (see
// loadgen.Streams.Serve).
func (k *streamBench) serve(ctx context.Context, nc net.Conn, i int, p *loadgen.Pace) (more bool, reason string) {
	sent := loadgen.NewRing(k.depth)
	r := packet.NewReader(nc)
	r.MaxBadPackets = -1
	for {
		n, now := k.streams.TopUp(ctx, p, sent.Len(), k.depth)
		if n > 0 {
			nc.SetWriteDeadline(time.Now().Add(k.o.Timeout))
			if _, err := nc.Write(k.batch[:n*len(k.ping)]); err != nil {
				return true, loadgen.Kind(err)
			}
			for range n {
				sent.Push(now)
			}
		}
		if sent.Len() == 0 {
			return false, ""
		}
		nc.SetReadDeadline(time.Now().Add(k.o.Timeout))
		code, body, err := r.ReadPacket()
		switch {
		case err != nil && !packet.Fatal(err):
			k.Errs.Add("packet:bad_crc", 1)
			continue
		case err != nil:
			if k.Stopping() && ctx.Err() != nil {
				return false, ""
			}
			kind := loadgen.Kind(err)
			var ce *websocket.CloseError
			switch {
			case kind == loadgen.KindTimeout:
				kind = "reply_timeout"
			case errors.As(err, &ce) && ce.Remote:
				kind = "server_closed" // a WebSocket close frame: a kick, or the server going away
			}
			return true, kind
		}
		switch code {
		case packet.CodePing:
			k.Complete(i, sent.Pop(), k.Now())
		case packet.CodeError:
			var e struct {
				Error string `json:"error"`
			}
			json.Unmarshal(body, &e)
			if e.Error == loadgen.ShutdownNotice {
				return true, "server_shutdown"
			}
			sent.Pop()
			if e.Error == "overloaded" {
				k.Errs.Add("server:overloaded", 1)
			} else {
				k.Errs.Add("server:error", 1)
			}
		case codeMessage:
			// A chat push: not ours to count here.
		default:
			k.Errs.Add("packet:unexpected_reply", 1)
		}
	}
}

func (k *streamBench) Finish(res *loadgen.Result) {
	k.streams.Finish(min(k.o.Timeout, 5*time.Second))
	k.FillResult(res)
	res.Hints = append(res.Hints, packetHints(res, k.o, k.depth)...)
}
