package loadgen

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"
)

// Exit statuses of wharf-bench, also Result.ExitCode.
const (
	ExitOK     = 0 // the run met its thresholds
	ExitFailed = 1 // it ran, and errors exceeded -max-errors (or hold fell short of -c)
	ExitUsage  = 2 // it could not run: bad flags, nothing to connect to, a child would not start
)

// Options are the flags every load subcommand (echo, packet, http, kcp)
// shares. Flags registers them; Check validates them and fills the parsed
// fields. They are read-only once the run has started.
type Options struct {
	Cmd       string        // the subcommand, for messages
	AddrFlag  string        // -addr as written
	Addrs     []string      // -addr parsed by Check (http may fill it from -url)
	Conns     int           // -c
	Dur       time.Duration // -d
	N         int64         // -n; 0: no limit
	Rate      float64       // -rate over all connections; 0: unpaced
	Size      int           // -s
	JSON      bool          // -json
	MaxErrors int64         // -max-errors
	Timeout   time.Duration // -timeout
	Loops     int           // -loops, where the subcommand registers it; Check makes 0 GOMAXPROCS
	SrcFlag   string        // -src as written
	Srcs      []netip.Addr  // -src parsed by Check; empty: the kernel chooses
	Quiet     bool          // -q

	TLS           bool   // -tls (http: also an https:// -url)
	TLSCA         string // -tls-ca
	TLSInsecure   bool   // -tls-insecure
	TLSServerName string // -tls-server-name
}

// Flags registers the shared flags on fs. defAddr is the subcommand's
// default target ("" registers no -addr: the subcommand has its own);
// withSize says whether -s means anything to it, defSize its default.
func (o *Options) Flags(fs *flag.FlagSet, defAddr string, withSize bool, defSize int) {
	if defAddr != "" {
		fs.StringVar(&o.AddrFlag, "addr", defAddr, "target `HOST:PORT[,HOST:PORT...]`; connection i goes to address i mod count")
	}
	fs.IntVar(&o.Conns, "c", 50, "connections")
	fs.DurationVar(&o.Dur, "d", 10*time.Second, "measured duration, after the connections are set up (0: until -n or interrupted)")
	fs.Int64Var(&o.N, "n", 0, "stop after this many requests (0: no limit)")
	fs.Float64Var(&o.Rate, "rate", 0, "requests per second over all connections, paced per connection (0: as fast as replies come)")
	if withSize {
		fs.IntVar(&o.Size, "s", defSize, "message size in bytes")
	}
	fs.BoolVar(&o.JSON, "json", false, "print the result as one JSON object on stdout (the text summary goes to stderr)")
	fs.Int64Var(&o.MaxErrors, "max-errors", 0, "exit with status 1 when more errors than this occur (-1: never)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "bound on each dial and on each reply")
	fs.StringVar(&o.SrcFlag, "src", "", "source addresses to spread connections over: `IP[-IP|-LASTBYTE][,...]` (default: the kernel's choice)")
	fs.BoolVar(&o.Quiet, "q", false, "no live progress line")
	fs.BoolVar(&o.TLS, "tls", false, "connect over TLS (a tls:// listener); the server's certificate is verified unless -tls-insecure")
	fs.StringVar(&o.TLSCA, "tls-ca", "", "PEM `FILE` of the CA (or the self-signed certificate, wharfd -gen-cert) to verify the server with; default: the system's roots")
	fs.BoolVar(&o.TLSInsecure, "tls-insecure", false, "with -tls, do not verify the server's certificate (tests only)")
	fs.StringVar(&o.TLSServerName, "tls-server-name", "", "with -tls, the server `NAME` to ask for (SNI) and verify; default: the host of the first -addr")
}

// TLSConfig is the client side of -tls, nil without it: the server is
// verified against -tls-ca (or the system's roots) for -tls-server-name
// (or host), and there is no session cache, so every connection makes a
// full handshake (what a handshake benchmark measures).
func (o *Options) TLSConfig(host string) (*tls.Config, error) {
	if !o.TLS {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: o.TLSServerName, InsecureSkipVerify: o.TLSInsecure, MinVersion: tls.VersionTLS12}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca: no PEM certificate in %s", o.TLSCA)
		}
	}
	return cfg, nil
}

// Check validates the shared flags after parsing and fills Addrs, Srcs and
// a zero Loops.
func (o *Options) Check() error {
	addrs, srcs, err := parseTargets(o.AddrFlag, o.SrcFlag, false)
	if err != nil {
		return err
	}
	if addrs != nil {
		o.Addrs = addrs
	}
	o.Srcs = srcs
	switch {
	case o.Conns < 1:
		return fmt.Errorf("-c must be at least 1, got %d", o.Conns)
	case o.Dur < 0:
		return fmt.Errorf("-d must not be negative")
	case o.N < 0:
		return fmt.Errorf("-n must not be negative")
	case o.Rate < 0:
		return fmt.Errorf("-rate must not be negative")
	case o.Size < 0:
		return fmt.Errorf("-s must not be negative")
	case o.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive")
	case o.Loops < 0:
		return fmt.Errorf("-loops must not be negative")
	}
	if o.Loops == 0 {
		o.Loops = runtime.GOMAXPROCS(0)
	}
	return nil
}

// parseTargets parses the -addr and -src flags, naming the flag in its
// error. An empty addrFlag gives no addresses unless needAddr, which makes
// it an error.
func parseTargets(addrFlag, srcFlag string, needAddr bool) ([]string, []netip.Addr, error) {
	var addrs []string
	if addrFlag != "" || needAddr {
		a, err := ParseAddrs(addrFlag)
		if err != nil {
			return nil, nil, fmt.Errorf("-addr: %w", err)
		}
		addrs = a
	}
	srcs, err := ParseSources(srcFlag)
	if err != nil {
		return nil, nil, fmt.Errorf("-src: %w", err)
	}
	return addrs, srcs, nil
}

// Target returns the address and source address of connection i (see
// Spread).
func (o *Options) Target(i int) (addr, src string) { return Spread(o.Addrs, o.Srcs, i) }

// Spread returns the target and source address of connection i: targets
// in turn, and each target's connections spread over the sources, so that
// every (source, target) pair gets its share of the ephemeral ports. src
// is "" without sources.
func Spread(addrs []string, srcs []netip.Addr, i int) (addr, src string) {
	addr = addrs[i%len(addrs)]
	if len(srcs) > 0 {
		src = srcs[(i/len(addrs))%len(srcs)].String()
	}
	return addr, src
}

// Interval is the pacing of one connection under -rate: the time between
// two of its sends, in nanoseconds; 0 without -rate.
func (o *Options) Interval() int64 {
	if o.Rate == 0 {
		return 0
	}
	return max(int64(float64(o.Conns)/o.Rate*1e9), 1)
}

// FlagValues returns every flag of fs with its value, for Result.Options;
// the hidden -child-* flags of hold are left out.
func FlagValues(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "child") {
			m[f.Name] = f.Value.String()
		}
	})
	return m
}

// Judge totals r's errors and decides OK and ExitCode. A run fails when
// errors exceed maxErrors (unless it is -1), when nothing at all completed
// (but for hold), or when short is not empty (a reason of the subcommand's
// own, added to Hints).
func (r *Result) Judge(maxErrors int64, short string) {
	r.Errors.Total = 0
	for _, v := range r.Errors.ByKind {
		r.Errors.Total += v
	}
	if r.Errors.ByKind == nil {
		r.Errors.ByKind = map[string]int64{}
	}
	r.Errors.MaxAllowed = maxErrors
	r.OK = true
	if maxErrors >= 0 && r.Errors.Total > maxErrors {
		r.OK = false
	}
	if r.Requests == 0 && r.Hold == nil {
		r.OK = false
		r.Hints = append(r.Hints, "no request completed")
	}
	if short != "" {
		r.OK = false
		r.Hints = append(r.Hints, short)
	}
	r.ExitCode = ExitOK
	if !r.OK {
		r.ExitCode = ExitFailed
	}
}
