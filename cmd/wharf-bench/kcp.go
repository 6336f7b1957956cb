package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"time"

	"wharf/internal/loadgen"
	"wharf/kcp"
	"wharf/packet"
)

// kcpBench is packet -mix ping over KCP sessions (kcp.Dial), -depth pings
// in flight per session, one goroutine per session (loadgen.Streams)
// reading replies. KCP has no close handshake: a session the server
// dropped shows as replies that stop coming (drop:reply_timeout after
// -timeout), and is redialed.
type kcpBench struct {
	*loadgen.Meter
	o       *loadgen.Options
	streams loadgen.Streams
	mode    string
	depth   int
	cfg     kcp.Config
	ping    []byte
	batch   []byte // -depth pings back to back

	// dial opens a session; kcp.Dial unless a test replaces it.
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

func newKCP(o *loadgen.Options) loadgen.Bench {
	k := &kcpBench{Meter: loadgen.NewMeter(o), o: o}
	k.dial = func(ctx context.Context, addr string) (net.Conn, error) { return kcp.Dial(ctx, addr, k.cfg) }
	k.streams = loadgen.Streams{
		Meter: k.Meter,
		Dial:  func(ctx context.Context, i int) (net.Conn, error) { return k.dial(ctx, o.Addrs[i%len(o.Addrs)]) },
		Serve: k.serve,
	}
	return k
}

func (k *kcpBench) Flags(fs *flag.FlagSet) {
	k.o.Flags(fs, "127.0.0.1:7001", false, 0)
	fs.StringVar(&k.mode, "mode", "fast", "KCP mode: default, normal or fast (as the server's [kcp] mode)")
	fs.IntVar(&k.depth, "depth", 1, "pings in flight per session")
}

func (k *kcpBench) Setup() error {
	if k.depth < 1 {
		return fmt.Errorf("-depth must be at least 1, got %d", k.depth)
	}
	if len(k.o.Srcs) > 0 {
		return fmt.Errorf("-src is not supported for kcp (each session has its own UDP socket)")
	}
	if k.o.TLS {
		return fmt.Errorf("-tls is not supported for kcp (KCP runs over UDP)")
	}
	m, err := kcp.ParseMode(k.mode)
	if err != nil {
		return fmt.Errorf("-mode: %w", err)
	}
	k.cfg = kcp.Config{Mode: m}
	k.ping, _ = packet.Encode(packet.CodePing, nil)
	k.batch = bytes.Repeat(k.ping, k.depth)
	return nil
}

func (k *kcpBench) Start(ctx context.Context) error {
	k.Init(k.o.Conns)
	k.streams.Start(ctx)
	return nil
}

// serve pings on nc until it fails or the run stops (see
// loadgen.Streams.Serve).
func (k *kcpBench) serve(ctx context.Context, nc net.Conn, i int, p *loadgen.Pace) (more bool, reason string) {
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
			if kind == loadgen.KindTimeout {
				kind = "reply_timeout"
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

func (k *kcpBench) Finish(res *loadgen.Result) {
	k.streams.Finish(min(k.o.Timeout, 5*time.Second))
	k.FillResult(res)
	res.Hints = append(res.Hints, packetHints(res, k.o, k.depth)...)
}
