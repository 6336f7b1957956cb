package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"sync"
	"time"

	"wharf/internal/loadgen"
	"wharf/kcp"
	"wharf/packet"
)

// kcpBench is packet -mix ping over KCP sessions (kcp.Dial), -depth pings
// in flight per session, one goroutine per session reading replies. KCP has
// no close handshake: a session the server dropped shows as replies that
// stop coming (drop:reply_timeout after -timeout), and is redialed.
type kcpBench struct {
	*tcpBench
	mode  string
	depth int
	cfg   kcp.Config
	ping  []byte
	batch []byte // -depth pings back to back

	// dial opens a session; kcp.Dial unless a test replaces it.
	dial func(ctx context.Context, addr string) (net.Conn, error)

	wg     sync.WaitGroup
	ctx    context.Context // ends the session goroutines
	cancel context.CancelFunc
	mu     sync.Mutex       // guards conns
	conns  map[int]net.Conn // open sessions, to unblock them at the end
}

func newKCP(o *options) bench {
	k := &kcpBench{tcpBench: newTCPBench(o), conns: map[int]net.Conn{}}
	k.dial = func(ctx context.Context, addr string) (net.Conn, error) { return kcp.Dial(ctx, addr, k.cfg) }
	return k
}

func (k *kcpBench) flags(fs *flag.FlagSet) {
	k.o.commonFlags(fs, "127.0.0.1:7001", false, 0)
	fs.StringVar(&k.mode, "mode", "fast", "KCP mode: default, normal or fast (as the server's [kcp] mode)")
	fs.IntVar(&k.depth, "depth", 1, "pings in flight per session")
}

func (k *kcpBench) setup() error {
	if k.depth < 1 {
		return fmt.Errorf("-depth must be at least 1, got %d", k.depth)
	}
	if len(k.o.srcs) > 0 {
		return fmt.Errorf("-src is not supported for kcp (each session has its own UDP socket)")
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

func (k *kcpBench) start(ctx context.Context) error {
	k.init(k.o.conns)
	k.ctx, k.cancel = context.WithCancel(context.Background())
	var dialed sync.WaitGroup
	dialed.Add(k.o.conns)
	for i := range k.o.conns {
		k.wg.Add(1)
		go k.runConn(i, &dialed)
	}
	ok := make(chan struct{})
	go func() { dialed.Wait(); close(ok) }()
	select {
	case <-ok:
	case <-ctx.Done():
		k.cancel()
		<-ok
	}
	return nil
}

// runConn is session i's goroutine: dial, ping, redial until the end.
func (k *kcpBench) runConn(i int, dialed *sync.WaitGroup) {
	defer k.wg.Done()
	first, hadConn := true, false
	addr := k.o.addrs[i%len(k.o.addrs)]
	p := k.startPace(i)
	backoff := 10 * time.Millisecond
	for !k.stopping.Load() && k.ctx.Err() == nil {
		nc, err := k.dial(k.ctx, addr)
		if first {
			first = false
			dialed.Done()
		}
		if err != nil {
			if k.ctx.Err() != nil {
				return
			}
			k.failed.Add(1)
			k.errs.Add("dial:"+loadgen.Kind(err), 1)
			select {
			case <-time.After(backoff):
			case <-k.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		if hadConn {
			k.reconnects.Add(1)
		}
		hadConn = true
		k.onOpen()
		k.mu.Lock()
		k.conns[i] = nc
		k.mu.Unlock()
		more, reason := k.serve(nc, i, &p)
		k.mu.Lock()
		delete(k.conns, i)
		k.mu.Unlock()
		nc.Close()
		k.closedConn(reason)
		if !more {
			return
		}
	}
}

// serve pings on nc until it fails or the run stops. more says whether to
// redial; reason why nc ended ("" for the run's own end).
func (k *kcpBench) serve(nc net.Conn, i int, p *pace) (more bool, reason string) {
	sent := newRing(k.depth)
	r := packet.NewReader(nc)
	r.MaxBadPackets = -1
	for {
		n := 0
		now := k.now()
		for sent.n+n < k.depth {
			if k.interval > 0 && now < p.next {
				if sent.n+n > 0 {
					break
				}
				select {
				case <-time.After(min(time.Duration(p.next-now), 100*time.Millisecond)):
				case <-k.ctx.Done():
					return false, ""
				}
				if k.stopping.Load() {
					return false, ""
				}
				now = k.now()
				continue
			}
			if !k.mayIssue() {
				break
			}
			if k.interval > 0 {
				p.next = max(p.next+k.interval, now-k.interval)
			}
			n++
		}
		if n > 0 {
			nc.SetWriteDeadline(time.Now().Add(k.o.timeout))
			if _, err := nc.Write(k.batch[:n*len(k.ping)]); err != nil {
				return true, loadgen.Kind(err)
			}
			for range n {
				sent.push(now)
			}
		}
		if sent.n == 0 {
			return false, ""
		}
		nc.SetReadDeadline(time.Now().Add(k.o.timeout))
		code, body, err := r.ReadPacket()
		switch {
		case err != nil && !packet.Fatal(err):
			k.errs.Add("packet:bad_crc", 1)
			continue
		case err != nil:
			if k.stopping.Load() && k.ctx.Err() != nil {
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
			k.complete(i, sent.pop(), k.now())
		case packet.CodeError:
			var e struct {
				Error string `json:"error"`
			}
			json.Unmarshal(body, &e)
			if e.Error == shutdownNotice {
				return true, "server_shutdown"
			}
			sent.pop()
			if e.Error == "overloaded" {
				k.errs.Add("server:overloaded", 1)
			} else {
				k.errs.Add("server:error", 1)
			}
		case codeMessage:
			// A chat push: not ours to count here.
		default:
			k.errs.Add("packet:unexpected_reply", 1)
		}
	}
}

func (k *kcpBench) finish(res *loadgen.Result) {
	if k.cancel != nil {
		done := make(chan struct{})
		go func() { k.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(min(k.o.timeout, 5*time.Second)):
		}
		k.cancel()
		k.mu.Lock()
		for _, c := range k.conns {
			c.SetDeadline(time.Now())
		}
		k.mu.Unlock()
		<-done
	}
	k.fillResult(res)
	res.Conns.Reconnects = k.reconnects.Load()
	res.Hints = append(res.Hints, packetHints(res, k.o, k.depth)...)
}
