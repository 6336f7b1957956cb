package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"wharf/internal/loadgen"
	"wharf/jwtauth"
	"wharf/packet"
)

// The channel codes of the demo application (packet/SPEC.md §8).
const (
	codeSubscribe   uint16 = 9
	codePublish     uint16 = 11
	codePublication uint16 = 12
)

// fanoutBench is wharf-bench fanout: -c subscriber connections, each
// subscribed to -k of -channels channels ("<-prefix>0" ...), and a
// publisher making -rate publications a second, round robin over the
// channels, through the packet protocol (code 11, on a connection of its
// own) or through the push API (-push-url, -push-key). A publication's data
// carries its send time, so each delivery (code 12) records its
// publish-to-delivery latency; at the end the deliveries are compared with
// what the accepted publications owed (each to every subscriber of its
// channel), and offsets that a subscriber skipped or got twice are
// counted. Requests, latency and requests/s are the deliveries.
type fanoutBench struct {
	*loadgen.Meter
	o *loadgen.Options

	channels  int           // -channels
	perConn   int           // -k
	first     int           // -first: index of this process's first subscriber
	prefix    string        // -prefix
	pushURL   string        // -push-url: publish through the push API
	pushKey   string        // -push-key
	jwtSecret string        // -jwt-secret: log the connections in with tokens signed with it
	grace     time.Duration // -grace: how long deliveries may trail the last publication
	pubs      int64         // -n: publications to make (0: until -d)
	heartbeat time.Duration // -heartbeat: a ping on every connection this often (the server's idle timeout)
	beatStop  chan struct{} // closed by Finish to stop the heartbeat goroutine

	data    []byte  // the publications' padding, for -s bytes of data
	subsOf  []int64 // subscriptions of each channel made by this process; read-only after Start
	conns   []net.Conn
	pub     net.Conn // the packet publisher's connection
	http    *http.Client
	readers sync.WaitGroup
	pubDone chan struct{} // closed when the publisher stops, or will not start (endPublisher)
	pubOnce sync.Once

	sent atomic.Int64 // publications sent: published + refused once every reply is in

	published, refused, expected, delivered, gaps, dups atomic.Int64

	window struct{ start, end atomic.Int64 } // Now values of the measured window
}

func newFanout(o *loadgen.Options) loadgen.Bench {
	return &fanoutBench{Meter: loadgen.NewMeter(o), o: o, pubDone: make(chan struct{}), beatStop: make(chan struct{})}
}

func (f *fanoutBench) Flags(fs *flag.FlagSet) {
	f.o.Flags(fs, "127.0.0.1:7000", true, 100)
	fs.IntVar(&f.channels, "channels", 1, "channels the subscribers spread over and the publisher publishes to")
	fs.IntVar(&f.perConn, "k", 1, "channels each subscriber connection subscribes to")
	fs.IntVar(&f.first, "first", 0, "index of the first subscriber: several processes sharing one run give each its range")
	fs.StringVar(&f.prefix, "prefix", "bench:", "channel names are PREFIX0, PREFIX1, ... (a namespace whose rules let the subscribers and the publisher in)")
	fs.StringVar(&f.pushURL, "push-url", "", "publish through the push API at this base URL (the admin listener, http://127.0.0.1:9090) instead of code 11")
	fs.StringVar(&f.pushKey, "push-key", "", "the push API's key ([push] keys)")
	fs.StringVar(&f.jwtSecret, "jwt-secret", "", "log every connection in with a JWT signed with this [jwt] hmac_secret (sub bench-N), for namespaces that want users")
	fs.DurationVar(&f.grace, "grace", 2*time.Second, "how long deliveries may arrive after the last publication")
	fs.DurationVar(&f.heartbeat, "heartbeat", 20*time.Second, "ping every connection this often, within the server's idle_timeout (0: never)")
}

func (f *fanoutBench) Setup() error {
	switch {
	case f.channels < 1:
		return fmt.Errorf("-channels must be at least 1, got %d", f.channels)
	case f.perConn < 1 || f.perConn > f.channels:
		return fmt.Errorf("-k must be 1 to -channels (%d), got %d", f.channels, f.perConn)
	case f.first < 0:
		return fmt.Errorf("-first must not be negative")
	case f.o.Size < 0 || f.o.Size > 8000:
		return fmt.Errorf("-s must be 0 to 8000 bytes of data, got %d", f.o.Size)
	case f.pushURL != "" && f.pushKey == "":
		return fmt.Errorf("-push-url needs -push-key")
	}
	// -n counts publications here, not the Meter's exchanges (the
	// deliveries, many per publication).
	f.pubs, f.o.N = f.o.N, 0
	// {"t":<ns since the start>,"p":"xxx"}: about 30 bytes besides the
	// padding.
	pad := max(f.o.Size-30, 0)
	f.data = []byte(`,"p":"` + strings.Repeat("x", pad) + `"}`)
	f.subsOf = make([]int64, f.channels)
	if f.pushURL != "" {
		f.http = &http.Client{Timeout: f.o.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	}
	return nil
}

// channelsOf returns the channels subscriber i subscribes to.
func (f *fanoutBench) channelsOf(i int) []int {
	out := make([]int, f.perConn)
	for m := range out {
		out[m] = ((f.first+i)*f.perConn + m) % f.channels
	}
	return out
}

func (f *fanoutBench) name(ch int) string { return f.prefix + strconv.Itoa(ch) }

// Start dials and subscribes every subscriber (at most 256 at a time),
// then starts the publisher.
func (f *fanoutBench) Start(ctx context.Context) error {
	f.Init(f.o.Conns)
	f.conns = make([]net.Conn, f.o.Conns)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, 256)
	)
	for i := range f.o.Conns {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			nc, chs, err := f.subscribe(ctx, i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			f.conns[i] = nc
			for _, ch := range chs {
				f.subsOf[ch]++
			}
		})
	}
	wg.Wait()
	if firstErr != nil && f.open() == 0 {
		f.endPublisher()
		return fmt.Errorf("no subscriber could subscribe: %w", firstErr)
	}
	for i, nc := range f.conns {
		if nc != nil {
			f.readers.Add(1)
			go f.read(i, nc)
		}
	}
	f.DialPhaseOver()
	if f.heartbeat > 0 {
		f.readers.Add(1)
		go f.beat()
	}
	if err := f.startPublisher(ctx); err != nil {
		f.endPublisher()
		return err
	}
	f.window.start.Store(f.Now())
	return nil
}

func (f *fanoutBench) open() int {
	n := 0
	for _, c := range f.conns {
		if c != nil {
			n++
		}
	}
	return n
}

// dial opens connection i (-src, -addr spread) and logs it in with a JWT
// under -jwt-secret.
func (f *fanoutBench) dial(ctx context.Context, i int, user string) (net.Conn, *packet.Reader, error) {
	addr, src := f.o.Target(i)
	d := net.Dialer{Timeout: f.o.Timeout}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		d.Control = loadgen.BindNoPort
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		f.Failed.Add(1)
		f.Errs.Add("dial:"+loadgen.Kind(err), 1)
		return nil, nil, err
	}
	f.Dials.Add(1)
	r := packet.NewReader(nc)
	if f.jwtSecret != "" {
		tok, err := jwtauth.SignHMAC([]byte(f.jwtSecret), jwtauth.Claims{Subject: user, Expires: time.Now().Add(24 * time.Hour)})
		if err == nil {
			body, _ := json.Marshal(map[string]string{"token": tok})
			_, err = f.exchange(nc, r, codeLogin, body)
		}
		if err != nil {
			nc.Close()
			f.Errs.Add("login:refused", 1)
			return nil, nil, fmt.Errorf("login: %w", err)
		}
	}
	return nc, r, nil
}

// exchange sends one request and reads its reply (skipping pushes),
// failing on {"ok": false} or a code 1 refusal.
func (f *fanoutBench) exchange(nc net.Conn, r *packet.Reader, code uint16, body []byte) ([]byte, error) {
	nc.SetDeadline(time.Now().Add(f.o.Timeout))
	defer nc.SetDeadline(time.Time{})
	if err := packet.WritePacket(nc, code, body); err != nil {
		return nil, err
	}
	for {
		c, reply, err := r.ReadPacket()
		if err != nil {
			return nil, err
		}
		switch c {
		case code:
			if !bytes.Contains(reply, []byte(`"ok":true`)) {
				return nil, fmt.Errorf("refused: %s", reply)
			}
			return reply, nil
		case packet.CodeError:
			return nil, fmt.Errorf("refused: %s", reply)
		}
	}
}

// subscribe dials subscriber i and subscribes it to its channels.
func (f *fanoutBench) subscribe(ctx context.Context, i int) (net.Conn, []int, error) {
	nc, r, err := f.dial(ctx, i, fmt.Sprint("bench-", f.first+i))
	if err != nil {
		return nil, nil, err
	}
	chs := f.channelsOf(i)
	for _, ch := range chs {
		body, _ := json.Marshal(map[string]string{"channel": f.name(ch)})
		if _, err := f.exchange(nc, r, codeSubscribe, body); err != nil {
			nc.Close()
			f.Errs.Add("subscribe:refused", 1)
			return nil, nil, fmt.Errorf("subscribe %s: %w", f.name(ch), err)
		}
	}
	f.Opened()
	return nc, chs, nil
}

// read counts subscriber i's deliveries until its connection ends.
func (f *fanoutBench) read(i int, nc net.Conn) {
	defer f.readers.Done()
	r := packet.NewReader(nc)
	last := map[string]int64{} // channel -> last offset seen
	for {
		code, body, err := r.ReadPacket()
		if err != nil {
			reason := loadgen.Kind(err)
			if f.Stopping() {
				reason = ""
			}
			f.Closed(reason)
			return
		}
		if code != codePublication {
			continue
		}
		now := f.Now()
		sent, ok := jsonInt(body, `"data":{"t":`)
		if !ok {
			f.Errs.Add("delivery:malformed", 1)
			continue
		}
		f.delivered.Add(1)
		f.Complete(i, sent, now)
		if off, ok := jsonInt(body, `"offset":`); ok {
			ch := jsonString(body, `"channel":"`)
			switch prev := last[ch]; {
			case prev == 0 || off == prev+1:
			case off <= prev:
				f.dups.Add(1)
			default:
				f.gaps.Add(off - prev - 1)
			}
			if off > last[ch] {
				last[ch] = off
			}
		}
	}
}

// beat pings every subscriber each -heartbeat (the readers skip the
// answers), so that a quiet subscriber outlives the server's idle timeout.
func (f *fanoutBench) beat() {
	defer f.readers.Done()
	ping, _ := packet.Encode(packet.CodePing, nil)
	t := time.NewTicker(f.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-f.beatStop:
			return
		case <-t.C:
		}
		for _, nc := range f.conns {
			if nc != nil {
				nc.SetWriteDeadline(time.Now().Add(f.o.Timeout))
				nc.Write(ping) // a failure shows in the reader
			}
		}
	}
}

// jsonInt reads the integer after key in a body encoded by the server
// (channels.AppendJSON: no spaces).
func jsonInt(body []byte, key string) (int64, bool) {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return 0, false
	}
	b := body[i+len(key):]
	n, end := int64(0), 0
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		n = n*10 + int64(b[end]-'0')
		end++
	}
	return n, end > 0
}

// jsonString reads the string after key (which ends with its opening
// quote); channel names need no escapes.
func jsonString(body []byte, key string) string {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	b := body[i+len(key):]
	if j := bytes.IndexByte(b, '"'); j >= 0 {
		return string(b[:j])
	}
	return ""
}

// startPublisher starts the publishing goroutine (none without -rate).
func (f *fanoutBench) startPublisher(ctx context.Context) error {
	if f.o.Rate <= 0 {
		f.endPublisher() // subscribers only: memory measurements
		return nil
	}
	var send func(ch int) error
	if f.pushURL != "" {
		send = func(ch int) error { return f.pushPublish(ctx, ch) }
	} else {
		nc, _, err := f.dial(ctx, f.o.Conns, "bench-publisher")
		if err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
		f.pub = nc
		sent := make(chan int, 1<<16) // channels of the publications awaiting replies, in order
		f.readers.Add(1)
		go f.readReplies(nc, sent)
		var buf []byte
		send = func(ch int) error {
			buf = f.appendPublish(buf[:0], ch)
			select {
			case sent <- ch:
			default:
				return fmt.Errorf("publisher: 65536 publications without a reply")
			}
			nc.SetWriteDeadline(time.Now().Add(f.o.Timeout))
			_, err := nc.Write(buf)
			return err
		}
	}
	go f.publish(send)
	return nil
}

// appendPublish appends the code 11 packet of a publication to ch.
func (f *fanoutBench) appendPublish(dst []byte, ch int) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, packet.HeaderSize)...)
	dst = append(dst, `{"channel":"`...)
	dst = append(dst, f.name(ch)...)
	dst = append(dst, `","data":`...)
	dst = f.appendData(dst)
	dst = append(dst, '}')
	packet.Seal(dst[start:], codePublish)
	return dst
}

// appendData appends a publication's data: its send time, then padding.
func (f *fanoutBench) appendData(dst []byte) []byte {
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, f.Now(), 10)
	return append(dst, f.data...)
}

// publish makes -rate publications a second, round robin over the
// channels, until Halt or -n.
func (f *fanoutBench) publish(send func(ch int) error) {
	defer f.endPublisher()
	interval := int64(float64(time.Second) / f.o.Rate)
	next := f.Now()
	for n := int64(0); !f.Stopping() && (f.pubs == 0 || n < f.pubs); n++ {
		if wait := next - f.Now(); wait > 0 {
			time.Sleep(time.Duration(wait))
		}
		// Keep the rate when the loop falls behind, without a burst to
		// catch up on more than a second.
		next = max(next+interval, f.Now()-int64(time.Second))
		if err := send(int(n % int64(f.channels))); err != nil {
			f.Errs.Add("publish:"+loadgen.Kind(err), 1)
			return
		}
		f.sent.Add(1)
	}
	if f.pubs > 0 {
		// -n publications made: the run ends once they are delivered.
		f.drain()
		f.FinishEarly()
	}
}

// readReplies reads the packet publisher's replies, in the order of the
// publications (sent).
func (f *fanoutBench) readReplies(nc net.Conn, sent <-chan int) {
	defer f.readers.Done()
	r := packet.NewReader(nc)
	for {
		code, body, err := r.ReadPacket()
		if err != nil {
			return
		}
		switch code {
		case codePublish:
			ch := <-sent
			if bytes.Contains(body, []byte(`"ok":true`)) {
				f.accepted(ch)
			} else {
				f.refused.Add(1)
				f.Errs.Add("publish:refused", 1)
			}
		case packet.CodeError:
			<-sent
			f.refused.Add(1)
			f.Errs.Add("publish:"+errorKind(body), 1)
		}
	}
}

// errorKind names a code 1 refusal for the error counts.
func errorKind(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(body, &e)
	switch {
	case strings.Contains(e.Error, "rate limited"):
		return "rate_limited"
	case e.Error == "overloaded":
		return "overloaded"
	}
	return "refused"
}

func (f *fanoutBench) accepted(ch int) {
	f.published.Add(1)
	f.expected.Add(f.subsOf[ch])
}

// pushPublish publishes to ch through the push API.
func (f *fanoutBench) pushPublish(ctx context.Context, ch int) error {
	body := []byte(`{"channel":"` + f.name(ch) + `","data":`)
	body = append(f.appendData(body), '}')
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(f.pushURL, "/")+"/api/publish", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "apikey "+f.pushKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.refused.Add(1)
		f.Errs.Add(fmt.Sprint("publish:http_", resp.StatusCode), 1)
		return nil
	}
	f.accepted(ch)
	return nil
}

// endPublisher says the publisher stopped, or will not start.
func (f *fanoutBench) endPublisher() { f.pubOnce.Do(func() { close(f.pubDone) }) }

// drain waits until every publication sent has its reply and every
// delivery they owe arrived, or -grace passed since the last publication.
func (f *fanoutBench) drain() {
	deadline := time.Now().Add(f.grace)
	for time.Now().Before(deadline) &&
		(f.published.Load()+f.refused.Load() < f.sent.Load() || f.delivered.Load() < f.expected.Load()) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Halt ends the measured window and stops the publisher.
func (f *fanoutBench) Halt() {
	if f.window.end.Load() == 0 {
		f.window.end.Store(f.Now())
	}
	f.Meter.Halt()
}

func (f *fanoutBench) Describe() string {
	return fmt.Sprintf("subs %d  pubs %s  delivered %s/%s  p99 %s", f.OpenNow(), loadgen.Num(f.published.Load()),
		loadgen.Num(f.delivered.Load()), loadgen.Num(f.expected.Load()), f.p99())
}

func (f *fanoutBench) p99() string {
	var res loadgen.Result
	f.FillResult(&res)
	if res.Latency == nil {
		return "-"
	}
	return loadgen.US(res.Latency.P99)
}

// Finish waits for the publisher, lets the last deliveries arrive, closes
// every connection and reports.
func (f *fanoutBench) Finish(res *loadgen.Result) {
	<-f.pubDone
	f.drain()
	close(f.beatStop)
	if f.pub != nil {
		f.pub.Close()
	}
	for _, nc := range f.conns {
		if nc != nil {
			nc.Close()
		}
	}
	f.readers.Wait()
	if f.http != nil {
		f.http.CloseIdleConnections()
	}
	f.FillResult(res)
	fo := &loadgen.Fanout{
		Channels:     f.channels,
		Publications: f.published.Load(),
		Refused:      f.refused.Load(),
		Expected:     f.expected.Load(),
		Delivered:    f.delivered.Load(),
		Gaps:         f.gaps.Load(),
		Duplicates:   f.dups.Load(),
	}
	for _, n := range f.subsOf {
		fo.Subscribers += n
	}
	if lost := fo.Expected - fo.Delivered; lost > 0 {
		fo.Lost = lost
		f.Errs.Add("fanout:lost", lost)
		res.Errors.ByKind = f.Errs.Snapshot()
		res.Hints = append(res.Hints, "deliveries were lost: see the server's wharf_channels_drops_total and wharf_packets_dropped_total (slow subscribers, full send queues), or raise -grace")
	}
	if fo.Refused > 0 {
		res.Hints = append(res.Hints, "publications were refused: raise [channels] publish limits and [chat] max_fanout (packet), or [push] rate and burst (push API)")
	}
	if w := f.window.end.Load() - f.window.start.Load(); w > 0 {
		fo.DeliveriesPS = float64(fo.Delivered) / (float64(w) / float64(time.Second))
	}
	res.Fanout = fo
}
