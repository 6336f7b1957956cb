package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Schema is the value of Result.Schema. It changes only when a field
// changes meaning or disappears; new fields may appear without a change.
const Schema = "wharf-bench/1"

// Result is the outcome of one run, printed as one JSON object by
// `wharf-bench ... -json` and as text otherwise. Fields that do not apply
// to the subcommand are omitted (the omitempty ones) or zero. Counts are
// totals over the whole run; rates are over the measured window (ElapsedS),
// which starts once every connection is set up.
type Result struct {
	Schema  string            `json:"schema"`  // always Schema
	Command string            `json:"command"` // echo, packet, http, kcp or hold
	Targets []string          `json:"targets"` // addresses (or the URL) driven
	Options map[string]string `json:"options"` // every flag of the subcommand, as used
	Started time.Time         `json:"started"` // wall clock at the start

	SetupS   float64 `json:"setup_s"`   // dialing (and logging in, for packet -mix chat) before the window
	ElapsedS float64 `json:"elapsed_s"` // the measured window

	Conns Conns `json:"connections"`

	Requests      int64    `json:"requests"`       // request/reply exchanges completed (hold: pongs)
	RequestsPerS  float64  `json:"requests_per_s"` // exchanges completed in the window / ElapsedS
	BytesSent     int64    `json:"bytes_sent"`     // payload bytes written (0 where not counted)
	BytesReceived int64    `json:"bytes_received"` // payload bytes read (0 where not counted)
	Latency       *Latency `json:"latency"`        // per exchange, send to reply; null with no sample

	Errors Errors `json:"errors"`

	StatusCodes map[string]int64 `json:"status_codes,omitempty"` // http: responses by status code
	Pushes      *Pushes          `json:"pushes,omitempty"`       // packet: server pushes (code 8)
	Logins      *Logins          `json:"logins,omitempty"`       // packet -mix chat
	Hold        *Hold            `json:"hold,omitempty"`         // hold
	Fanout      *Fanout          `json:"fanout,omitempty"`       // fanout

	Hints []string `json:"hints,omitempty"` // advice about what went wrong, for people

	OK       bool `json:"ok"`        // the run met its thresholds
	ExitCode int  `json:"exit_code"` // the process's exit status: 0 ok, 1 thresholds missed, 2 could not run
}

// Conns counts connections.
type Conns struct {
	Target     int64 `json:"target"`     // -c
	Opened     int64 `json:"opened"`     // successful dials, redials included
	Failed     int64 `json:"failed"`     // failed dials
	Dropped    int64 `json:"dropped"`    // connections closed by anything but the run's own stop
	Reconnects int64 `json:"reconnects"` // connections dialed again after one ended
	Peak       int64 `json:"peak"`       // most open at once
}

// Errors counts what went wrong, by kind. Kinds are "phase:what", for
// example "dial:refused", "drop:reset", "request:timeout",
// "server:overloaded", "http:5xx" (see Kind for the what).
type Errors struct {
	Total      int64            `json:"total"`
	MaxAllowed int64            `json:"max_allowed"` // -max-errors; -1: no limit
	ByKind     map[string]int64 `json:"by_kind"`
}

// Pushes counts packets the server sent unasked (chat messages, code 8).
type Pushes struct {
	Count int64   `json:"count"`
	PerS  float64 `json:"per_s"` // over the window
	Bytes int64   `json:"bytes"` // packet bytes, headers included
}

// Fanout reports wharf-bench fanout: publications made, the deliveries
// they should have made (each to every subscriber of its channel), and
// what the subscribers got. Requests and Latency are the deliveries,
// publish to delivery.
type Fanout struct {
	Channels     int     `json:"channels"`      // channels published to
	Subscribers  int64   `json:"subscribers"`   // subscriptions made (connections × channels each)
	Publications int64   `json:"publications"`  // publications the server accepted
	Refused      int64   `json:"refused"`       // publications the server refused (rate limits, errors)
	Expected     int64   `json:"expected"`      // deliveries the accepted publications owe
	Delivered    int64   `json:"delivered"`     // publications received by subscribers
	Lost         int64   `json:"lost"`          // Expected - Delivered, when positive
	Gaps         int64   `json:"gaps"`          // offsets a subscriber skipped (with history: a loss it can see)
	Duplicates   int64   `json:"duplicates"`    // offsets a subscriber got twice
	DeliveriesPS float64 `json:"deliveries_ps"` // over the window
}

// Logins reports the register-and-login phase of packet -mix chat. Both are
// slow by design (a password hash each), so they are measured apart.
type Logins struct {
	Registered int64    `json:"registered"` // accounts created
	Existing   int64    `json:"existing"`   // register refused as taken (an earlier run's user): logged in anyway
	LoggedIn   int64    `json:"logged_in"`
	Failed     int64    `json:"failed"`     // connections that could not log in
	DurationS  float64  `json:"duration_s"` // from the first register to the last login
	PerS       float64  `json:"per_s"`      // logins / DurationS
	Latency    *Latency `json:"latency"`    // register + login, per connection
}

// Hold reports a hold run. Result.Latency is the ping round trip and
// Result.Requests the pongs.
type Hold struct {
	Target        int64   `json:"target"`
	Reached       bool    `json:"reached"`          // every connection was up at once
	TimeToTargetS float64 `json:"time_to_target_s"` // from the start to Reached
	HeldS         float64 `json:"held_s"`           // the hold phase
	Peak          int64   `json:"peak"`             // most connections up at once (sum of the children's reports)
	Final         int64   `json:"final"`            // connections up when the hold phase ended
	Procs         int     `json:"procs"`
	Sources       int     `json:"sources"` // source addresses (0: the kernel's choice)
	HeartbeatS    float64 `json:"heartbeat_s"`

	Pings             int64 `json:"pings"`
	Pongs             int64 `json:"pongs"`
	SkippedHeartbeats int64 `json:"skipped_heartbeats"` // heartbeats due while a ping was still unanswered
	Reconnects        int64 `json:"reconnects"`         // dropped connections dialed again successfully

	Drops      map[string]int64 `json:"drops"`       // held connections closed, by reason: never silent
	DialErrors map[string]int64 `json:"dial_errors"` // failed dials, by kind

	Children []HoldChild `json:"children"`
}

// HoldChild is one process of a hold run.
type HoldChild struct {
	Index        int     `json:"index"`
	PID          int     `json:"pid"`
	Target       int64   `json:"target"`
	Peak         int64   `json:"peak"`
	Final        int64   `json:"final"`
	RSSBytes     int64   `json:"rss_bytes"`          // at the end of the hold phase
	BaseRSSBytes int64   `json:"base_rss_bytes"`     // before the first dial
	BytesPerConn float64 `json:"rss_bytes_per_conn"` // (RSSBytes - BaseRSSBytes) / Final
	Exit         string  `json:"exit"`               // "ok", or how the process ended
}

// WriteJSON writes r as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("loadgen: encode result: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteText writes r for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("wharf-bench %s: %s, %d connections, %.1fs (+%.1fs setup)", r.Command, strings.Join(r.Targets, ","), r.Conns.Target, r.ElapsedS, r.SetupS)
	if h := r.Hold; h != nil {
		reached := "NOT reached"
		if h.Reached {
			reached = fmt.Sprintf("reached in %.1fs", h.TimeToTargetS)
		}
		p("  held        %s of %s (peak %s), target %s, held %.1fs", Num(h.Final), Num(h.Target), Num(h.Peak), reached, h.HeldS)
		p("  spread      %d processes, %d source addresses, heartbeat %gs", h.Procs, h.Sources, h.HeartbeatS)
		p("  pings       %s sent, %s pongs, %s heartbeats skipped (ping unanswered)", Num(h.Pings), Num(h.Pongs), Num(h.SkippedHeartbeats))
		p("  reconnects  %s", Num(h.Reconnects))
		p("  drops       %s", kinds(h.Drops))
		p("  dial errors %s", kinds(h.DialErrors))
		for _, c := range h.Children {
			p("  child %-3d   pid %d: %s/%s held (peak %s), rss %s (%s before dialing, %.0f B/conn), %s",
				c.Index, c.PID, Num(c.Final), Num(c.Target), Num(c.Peak), Bytes(c.RSSBytes), Bytes(c.BaseRSSBytes), c.BytesPerConn, c.Exit)
		}
	} else {
		p("  requests    %s (%s/s)", Num(r.Requests), Num(int64(r.RequestsPerS)))
		if r.BytesSent > 0 || r.BytesReceived > 0 {
			p("  bytes       %s sent, %s received", Bytes(r.BytesSent), Bytes(r.BytesReceived))
		}
	}
	if l := r.Latency; l != nil {
		p("  latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, %s samples)",
			US(l.P50), US(l.P90), US(l.P99), US(l.P999), US(l.Max), US(l.Mean), Num(l.Count))
	} else {
		p("  latency     no samples")
	}
	if lg := r.Logins; lg != nil {
		p("  logins      %s logged in (%s registered, %s existing, %s failed) in %.1fs: %.1f/s", Num(lg.LoggedIn), Num(lg.Registered), Num(lg.Existing), Num(lg.Failed), lg.DurationS, lg.PerS)
		if l := lg.Latency; l != nil {
			p("  login time  p50 %s  p99 %s  max %s", US(l.P50), US(l.P99), US(l.Max))
		}
	}
	if f := r.Fanout; f != nil {
		p("  fanout      %s publications to %d channels (%s refused), %s subscriptions", Num(f.Publications), f.Channels, Num(f.Refused), Num(f.Subscribers))
		p("  deliveries  %s of %s expected (%s lost, %s gaps, %s duplicates), %s/s", Num(f.Delivered), Num(f.Expected), Num(f.Lost), Num(f.Gaps), Num(f.Duplicates), Num(int64(f.DeliveriesPS)))
	}
	if ps := r.Pushes; ps != nil {
		p("  pushes      %s (%s/s), %s", Num(ps.Count), Num(int64(ps.PerS)), Bytes(ps.Bytes))
	}
	if len(r.StatusCodes) > 0 {
		p("  status      %s", kinds(r.StatusCodes))
	}
	p("  connections %s opened, %s failed, %s dropped, %s reconnects, peak %s", Num(r.Conns.Opened), Num(r.Conns.Failed), Num(r.Conns.Dropped), Num(r.Conns.Reconnects), Num(r.Conns.Peak))
	limit := "no limit"
	if r.Errors.MaxAllowed >= 0 {
		limit = "max " + Num(r.Errors.MaxAllowed)
	}
	p("  errors      %s (%s): %s", Num(r.Errors.Total), limit, kinds(r.Errors.ByKind))
	for _, h := range r.Hints {
		p("  hint: %s", h)
	}
	if r.OK {
		p("  result      ok")
	} else {
		p("  result      FAILED (exit status %d)", r.ExitCode)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func kinds(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range SortedKeys(m) {
		parts = append(parts, k+" "+Num(m[k]))
	}
	return strings.Join(parts, ", ")
}

// Num formats n with thousands separators: 1234567 -> "1,234,567".
func Num(n int64) string { return humanize.Comma(n) }

// Bytes formats a byte count with a binary unit: 1536 -> "1.5 KiB".
func Bytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

// US formats microseconds for people: "85µs", "1.25ms", "2.50s".
func US(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1e3)
	}
	return fmt.Sprintf("%.2fs", us/1e6)
}
