package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"wharf/endpoint"
	"wharf/internal/subject"
)

// Validate checks every key of c and returns all problems found, joined with
// errors.Join, each an *Error naming its key. It cannot know where values
// came from, so its errors carry no file position; Load and Parse run the
// same checks and locate each problem in the file or the environment.
// Validate only reads c; it may be called from any goroutine that owns c.
func (c *Config) Validate() error {
	errs := c.check(nil)
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// checker runs the checks of one Validate, Load or Parse.
type checker struct {
	c    *Config
	l    *loader // nil for Validate
	errs []*Error
}

// check returns the problems in c's values. l (may be nil) locates them and
// lists the keys that failed to decode, which are not checked again.
func (c *Config) check(l *loader) []*Error {
	v := &checker{c: c, l: l}

	if p := c.Processes; p != ProcessesAuto && (p < 0 || p > maxProcesses) {
		v.fail("processes", processesRange(int64(p)))
	}
	if c.DataDir == "" {
		v.failf("data_dir", "must not be empty")
	}
	v.nonNegative("drain_timeout")

	v.listen("server.listen", false)
	v.oneOf("server.engine", "reactor", "goroutine", "uring", "auto")
	v.atLeast("server.loops", 0)
	v.atLeast("server.max_connections", 1)
	v.nonNegative("server.max_connections_per_ip")
	v.nonNegative("server.idle_timeout")
	v.oneOf("server.flood_mode", "bucket", "interval", "off")
	v.atLeast("server.flood_rate", 1)
	v.atLeast("server.flood_burst", 1)
	v.nonNegative("server.flood_interval")
	v.atLeast("server.flood_count", 2)
	v.atLeast("server.max_pending_per_conn", 1)
	v.atLeast("server.max_pending_total", 1)
	v.notAbove("server.max_pending_per_conn", "server.max_pending_total")
	v.atLeast("server.handlers", 0)
	v.atLeast("server.handler_queue", 0)
	v.nonNegative("server.stats_interval")
	v.inRange("server.max_packet", 9, 65535)
	v.atLeast("server.max_bad_packets", 1)

	v.nonNegative("chat.register_rate")
	for _, k := range []string{"chat.register_per_ip", "chat.login_failures_per_ip", "chat.login_failures_per_user",
		"chat.login_failures_per_user_total", "chat.say_burst", "chat.say_per_ip_burst", "chat.max_fanout"} {
		v.atLeast(k, 1)
	}
	for _, k := range []string{"chat.say_interval", "chat.say_per_ip_interval", "chat.login_wait", "chat.register_wait"} {
		v.atLeast(k, int64(time.Millisecond))
	}

	v.oneOf("kcp.cookies", "under_load", "always", "off")

	v.listen("http.listen", true)
	v.listen("admin.listen", true)
	v.nonNegative("http.read_header_timeout")
	v.nonNegative("http.read_timeout")
	v.nonNegative("http.write_timeout")
	v.nonNegative("http.idle_timeout")
	if c.HTTP.ReadTimeout > 0 {
		v.notAbove("http.read_header_timeout", "http.read_timeout")
	}
	v.atLeast("http.max_header_bytes", 1)
	v.atLeast("http.max_body_bytes", 1)
	v.atLeast("http.max_connections", 1)
	v.nonNegative("http.max_connections_per_ip")
	v.atLeast("http.handlers", 0)
	for i, s := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(s); err == nil {
			continue
		}
		v.failf(fmt.Sprintf("http.trusted_proxies[%d]", i), `%s is neither a CIDR ("10.0.0.0/8") nor an IP address`, quoteShort(s))
	}

	v.listen("kcp.listen", true)
	v.oneOf("kcp.mode", "default", "normal", "fast")
	v.inRange("kcp.send_window", 1, 65535)
	v.inRange("kcp.recv_window", 1, 65535)
	v.inRange("kcp.mtu", 50, 1500)
	v.atLeast("kcp.max_sessions", 1)
	v.inRange("kcp.data_shards", 0, 255)
	v.inRange("kcp.parity_shards", 0, 255)
	v.shards()

	v.channels()
	v.jwt()
	v.push()
	v.tls()

	v.oneOf("log.level", "debug", "info", "warn", "error")
	v.oneOf("log.format", "text", "json")
	v.atLeast("log.max_size", 0)
	v.atLeast("log.max_backups", 0)
	v.nonNegative("log.max_age")
	v.oneOf("log.on_full", "block", "drop")

	v.databaseURL()
	v.atLeast("database.max_open_conns", 0)

	v.cluster()

	v.duplicateListeners()
	return v.errs
}

// field returns the schema entry for key; a key missing from the schema is
// a bug in this file, caught by every test that validates.
func (v *checker) field(key string) *field {
	f := schema.keys[key]
	if f == nil {
		panic("config: no key " + key)
	}
	return f
}

// skip reports whether key's value failed to decode, so it holds the
// default rather than what the user wrote.
func (v *checker) skip(key string) bool {
	return v.l != nil && v.l.failed[baseKey(key)]
}

func (v *checker) fail(key string, p *problem) {
	if v.skip(key) {
		return
	}
	v.errs = append(v.errs, v.l.locate(key, p))
}

func (v *checker) failf(key, format string, args ...any) {
	v.fail(key, valueProblem(fmt.Sprintf(format, args...)))
}

// num returns the numeric value of an int, Size or Duration key, and its
// text as written in messages.
func (v *checker) num(key string) (int64, string) {
	f := v.field(key)
	n := f.value(v.c).Int()
	if f.kind == kindDuration {
		return n, Duration(n).String()
	}
	return n, strconv.FormatInt(n, 10) // sizes in bytes, as the ranges are
}

func (v *checker) str(key string) string { return v.field(key).value(v.c).String() }

func (v *checker) atLeast(key string, lo int64) {
	if n, s := v.num(key); n < lo {
		switch {
		case lo == 0:
			v.failf(key, "%s must not be negative", s)
		case v.field(key).kind == kindDuration:
			v.failf(key, "%s must be at least %s", s, Duration(lo))
		default:
			v.failf(key, "%s must be at least %d", s, lo)
		}
	}
}

func (v *checker) nonNegative(key string) { v.atLeast(key, 0) }

func (v *checker) inRange(key string, lo, hi int64) {
	if n, s := v.num(key); n < lo || n > hi {
		v.failf(key, "%s is out of range (%d..%d)", s, lo, hi)
	}
}

func (v *checker) oneOf(key string, allowed ...string) { v.oneOfValue(key, v.str(key), allowed...) }

// oneOfValue checks s, the value of key, against allowed.
func (v *checker) oneOfValue(key, s string, allowed ...string) {
	if slices.Contains(allowed, s) {
		return
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	msg := fmt.Sprintf("%s is not %s", quoteShort(s), orList(quoted))
	if near := suggest(strings.ToLower(s), allowed); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	v.failf(key, "%s", msg)
}

// blameFirst reports whether a problem between keys a and b is reported on
// a: the key whose value was chosen more deliberately (see loader.rank),
// a on a tie.
func (v *checker) blameFirst(a, b string) bool {
	return v.l.rank(baseKey(a)) >= v.l.rank(baseKey(b))
}

// notAbove checks lo <= hi for two numeric keys.
func (v *checker) notAbove(lo, hi string) {
	if v.skip(lo) || v.skip(hi) {
		return
	}
	a, as := v.num(lo)
	b, bs := v.num(hi)
	if a <= b {
		return
	}
	if v.blameFirst(lo, hi) {
		v.failf(lo, "%s must not exceed %s %s", as, hi, v.l.describe(hi, bs))
	} else {
		v.failf(hi, "%s must be at least %s %s", bs, lo, v.l.describe(lo, as))
	}
}

// shards checks that FEC is off (both 0) or fully configured.
func (v *checker) shards() {
	const d, p = "kcp.data_shards", "kcp.parity_shards"
	if v.skip(d) || v.skip(p) {
		return
	}
	dn, ds := v.num(d)
	pn, ps := v.num(p)
	if dn < 0 || pn < 0 || dn > 255 || pn > 255 {
		return // reported by inRange
	}
	var msgD, msgP string
	switch {
	case (dn == 0) != (pn == 0):
		msgD = fmt.Sprintf("%s needs %s > 0 too, or both 0 to turn FEC off %s", ds, p, v.l.describe(p, ps))
		msgP = fmt.Sprintf("%s needs %s > 0 too, or both 0 to turn FEC off %s", ps, d, v.l.describe(d, ds))
	case dn+pn > 256:
		msgD = fmt.Sprintf("%s plus %s %s is more than 256 shards", ds, p, v.l.describe(p, ps))
		msgP = fmt.Sprintf("%s plus %s %s is more than 256 shards", ps, d, v.l.describe(d, ds))
	default:
		return
	}
	// Report on the key that turned FEC on by half, else on the more
	// deliberate one.
	blameP := !v.blameFirst(d, p)
	if (dn == 0) != (pn == 0) {
		blameP = pn != 0
	}
	if blameP {
		v.failf(p, "%s", msgP)
	} else {
		v.failf(d, "%s", msgD)
	}
}

// listen checks the addresses of listen key key against its schemes tag:
// each must read back from its String form under the key's schemes, which
// catches an Addr built in Go with a scheme, host, port or path the key
// does not take.
func (v *checker) listen(key string, allowEmpty bool) {
	f := v.field(key)
	list := f.value(v.c).Interface().([]endpoint.Addr)
	if len(list) == 0 && !allowEmpty {
		v.failf(key, "must list at least one address")
	}
	for i, a := range list {
		if _, err := f.schemes.Parse(a.String()); err != nil {
			v.fail(v.l.element(key, i), addrProblem(err))
		}
	}
}

// duplicateListeners reports an address listened on twice, within a list
// or between the packet server and HTTP. With SO_REUSEPORT both binds
// would succeed and the kernel would split connections between the two
// protocols, so this must be caught here.
func (v *checker) duplicateListeners() {
	type seen struct {
		key string // the element, "server.listen[0]"
		url string
	}
	first := map[string]seen{}
	for _, key := range []string{"server.listen", "http.listen", "admin.listen", "kcp.listen"} {
		if v.skip(key) {
			continue
		}
		for i, a := range v.field(key).value(v.c).Interface().([]endpoint.Addr) {
			id := socketOf(a)
			if id == "" {
				continue
			}
			el := v.l.element(key, i)
			s := a.String()
			prev, dup := first[id]
			if !dup {
				first[id] = seen{el, s}
				continue
			}
			switch {
			case baseKey(prev.key) == key:
				v.failf(el, "%s is listed twice (also %s)", quoteShort(s), prev.key)
			case v.blameFirst(key, baseKey(prev.key)):
				v.failf(el, "%s is also in %s %s", quoteShort(s), baseKey(prev.key), v.l.describe(baseKey(prev.key), quoteShort(prev.url)))
			default:
				v.failf(prev.key, "%s is also in %s %s", quoteShort(prev.url), key, v.l.describe(key, quoteShort(s)))
			}
		}
	}
}

// socketOf returns what a binds, so that two addresses binding the same
// socket compare equal: "stream [::1]:80", "dgram :7001",
// "unix /run/w.sock". It returns "" for port 0, which the kernel makes
// unique.
func socketOf(a endpoint.Addr) string {
	network := a.Network()
	if network == "unix" {
		return "unix " + a.Path
	}
	if a.Port == 0 {
		return ""
	}
	host := strings.ToLower(a.Host)
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	family := "stream"
	if strings.HasPrefix(network, "udp") {
		family = "dgram"
	}
	return family + " " + net.JoinHostPort(host, strconv.Itoa(int(a.Port)))
}

// tls checks the [tls] table. The files are read only when a listener is
// tls:// (otherwise nothing uses them): a certificate that does not load
// is reported at its key, with the file's own error (which names it). A
// tls:// listener without tls.cert or tls.key is reported at the
// listener.
func (v *checker) tls() {
	c := v.c.TLS
	v.oneOf("tls.min_version", "1.2", "1.3")
	v.atLeast("tls.handshake_timeout", int64(time.Millisecond))
	used := false
	for _, key := range []string{"server.listen", "http.listen"} {
		if v.skip(key) {
			continue
		}
		for i, a := range v.field(key).value(v.c).Interface().([]endpoint.Addr) {
			if a.Scheme != "tls" {
				continue
			}
			used = true
			if c.Cert == "" || c.Key == "" {
				v.failf(v.l.element(key, i), "%s needs tls.cert and tls.key (a certificate and its private key)", quoteShort(a.String()))
				return
			}
		}
	}
	if !used {
		return
	}
	if _, err := tls.LoadX509KeyPair(c.Cert, c.Key); err != nil {
		v.failf("tls.cert", "certificate %s with key %s: %v", quoteShort(c.Cert), quoteShort(c.Key), err)
	}
	for i, entry := range c.SNICerts {
		cert, key := SNIPair(entry)
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			v.failf(v.l.element("tls.sni_certs", i), "certificate %s with key %s: %v", quoteShort(cert), quoteShort(key), err)
		}
	}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err == nil && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			err = fmt.Errorf("no PEM certificate in %s", quoteShort(c.ClientCA))
		}
		if err != nil {
			v.failf("tls.client_ca", "%v", err)
		}
	}
}

// databaseURL checks database.url without ever echoing it: it may hold a
// password.
func (v *checker) databaseURL() {
	const key = "database.url"
	u := v.c.Database.URL
	if u == "" {
		return
	}
	scheme, rest, ok := strings.Cut(u, "://")
	switch {
	case !ok:
		v.failf(key, `want "sqlite://PATH" or "postgres://USER:PASSWORD@HOST/DB"`)
	case scheme == "sqlite":
		if rest == "" {
			v.failf(key, "sqlite:// needs a file path")
		}
	case scheme == "postgres" || scheme == "postgresql":
		if _, err := url.Parse(u); err != nil {
			v.failf(key, "is not a valid %s:// URL", scheme)
		}
	default:
		v.failf(key, "unsupported scheme %s (want sqlite or postgres)", quoteShort(scheme))
	}
}

// cluster checks the [cluster] table. The broker URL is never echoed: it
// may hold a password.
func (v *checker) cluster() {
	c := &v.c.Cluster
	if c.NodeName != "" {
		if r := subject.NodeNameProblem(c.NodeName); r != "" {
			v.failf("cluster.node_name", "%s %s", quoteShort(c.NodeName), r)
		}
	}
	if r := subject.PrefixProblem(c.SubjectPrefix); r != "" {
		v.failf("cluster.subject_prefix", "%s %s", quoteShort(c.SubjectPrefix), r)
	}
	v.atLeast("cluster.heartbeat", int64(10*time.Millisecond))
	if !v.skip("cluster.heartbeat") && !v.skip("cluster.dead_after") && c.DeadAfter < 2*c.Heartbeat {
		v.failf("cluster.dead_after", "%s must be at least twice cluster.heartbeat %s (one late heartbeat would drop the node)",
			c.DeadAfter, v.l.describe("cluster.heartbeat", c.Heartbeat.String()))
	}
	if c.Broker == "" {
		return
	}
	const key = "cluster.broker"
	for i, u := range strings.Split(c.Broker, ",") {
		u = strings.TrimSpace(u)
		which := ""
		if strings.Contains(c.Broker, ",") {
			which = fmt.Sprintf("URL %d ", i+1)
		}
		scheme, _, ok := strings.Cut(u, "://")
		pu, err := url.Parse(u)
		switch {
		case !ok:
			v.failf(key, `%swant "nats://HOST:PORT" (or tls://, ws://, wss://)`, which)
		case scheme != "nats" && scheme != "tls" && scheme != "ws" && scheme != "wss":
			v.failf(key, "%sunsupported scheme %s (want nats, tls, ws or wss)", which, quoteShort(scheme))
		case err != nil || pu.Host == "":
			v.failf(key, "%sis not a valid %s:// URL with a host", which, scheme)
		}
	}
	if db := v.c.ResolvedDatabaseURL(); !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
		const why = "a cluster shares accounts, sessions and history in PostgreSQL"
		if v.c.Database.URL != "" && v.blameFirst("database.url", key) {
			v.failf("database.url", "must be a postgres:// URL with cluster.broker set: %s", why)
		} else {
			v.failf(key, "needs database.url = \"postgres://...\": %s", why)
		}
	}
}

// accessWords are the rules of a namespace's subscribe and publish.
var accessWords = []string{"users", "anyone", "owner", "server"}

// channels checks the [channels] table and its namespaces.
func (v *checker) channels() {
	c := &v.c.Channels
	v.oneOf("channels.history", "auto", "memory", "sql")
	v.atLeast("channels.stream_ttl", int64(time.Second))
	v.atLeast("channels.max_data_size", 1)
	if mp := int64(v.c.Server.MaxPacket); mp >= 9 && mp <= 65535 && !v.skip("channels.max_data_size") && !v.skip("server.max_packet") &&
		int64(c.MaxDataSize) > mp-maxEnvelope {
		// A publication travels in one packet, with its envelope.
		if v.blameFirst("channels.max_data_size", "server.max_packet") {
			v.failf("channels.max_data_size", "%d does not fit a packet of server.max_packet %s with the message around the data (%d bytes)",
				c.MaxDataSize, v.l.describe("server.max_packet", strconv.FormatInt(mp, 10)), maxEnvelope)
		} else {
			v.failf("server.max_packet", "%d has no room for channels.max_data_size %s and the message around the data (%d bytes)",
				mp, v.l.describe("channels.max_data_size", strconv.Itoa(int(c.MaxDataSize))), maxEnvelope)
		}
	}
	v.atLeast("channels.max_channels_per_conn", 1)
	v.oneOf("channels.direct_messages", "users", "anyone", "server")
	v.atLeast("channels.publish_burst", 1)
	v.atLeast("channels.publish_per_ip_burst", 1)
	v.atLeast("channels.publish_interval", int64(time.Millisecond))
	v.atLeast("channels.publish_per_ip_interval", int64(time.Millisecond))

	const list = "channels.namespace"
	if v.skip(list) {
		return
	}
	seen := map[string]int{}
	history := false
	for i, ns := range c.Namespaces {
		el := fmt.Sprintf("%s[%d]", list, i)
		if ns.Name != "" {
			if reason := namespaceProblem(ns.Name); reason != "" {
				v.failf(el+".name", "%s: %s", quoteShort(ns.Name), reason)
			}
		}
		if j, dup := seen[ns.Name]; dup {
			v.failf(el+".name", "%s is also %s[%d]", quoteShort(ns.Name), list, j)
		}
		seen[ns.Name] = i
		v.oneOfValue(el+".subscribe", ns.Subscribe, accessWords...)
		v.oneOfValue(el+".publish", ns.Publish, accessWords...)
		switch {
		case ns.JoinLeave && !ns.Presence:
			v.failf(el+".join_leave", "needs presence = true (joins and leaves are presence's)")
		case ns.HistorySize < 0:
			v.failf(el+".history_size", "%d must not be negative", ns.HistorySize)
		case ns.HistoryTTL < 0:
			v.failf(el+".history_ttl", "%s must not be negative", ns.HistoryTTL)
		case ns.HistoryTTL > 0 && ns.HistorySize == 0:
			v.failf(el+".history_ttl", "set without history_size")
		case ns.MaxSubscribers < 0:
			v.failf(el+".max_subscribers", "%d must not be negative", ns.MaxSubscribers)
		}
		history = history || ns.HistorySize > 0
	}
	if c.Lobby == "" {
		v.failf("channels.lobby", "must not be empty")
		return
	}
	lobbyNS := ""
	if i := strings.IndexByte(c.Lobby, ':'); i >= 0 {
		lobbyNS = c.Lobby[:i]
	}
	if _, ok := seen[lobbyNS]; !ok && !v.skip("channels.lobby") {
		v.failf("channels.lobby", "%s is in namespace %q, which channels.namespace does not list", quoteShort(c.Lobby), lobbyNS)
	}
	// Worker processes each keep a memory history of their own: their
	// offsets would disagree, and a client recovering from another
	// worker would be told nonsense.
	if p := v.c.Processes; history && c.History == "memory" && (p == ProcessesAuto || p > 1) && !v.skip("processes") {
		v.failf("channels.history", `"memory" keeps history in each worker process, and processes %s would number publications each on its own: set channels.history = "sql" (the [database])`,
			v.l.describe("processes", p.String()))
	}
	if history && c.History == "memory" && v.c.Cluster.Broker != "" && !v.skip("cluster.broker") {
		v.failf("channels.history", `"memory" keeps history in each node, which would number publications each on its own: a cluster needs channels.history = "sql" (in the shared PostgreSQL)`)
	}
}

// maxEnvelope is what a publication's packet holds beside its data: the
// header and the JSON around it (channel name, epoch, sender, offset,
// time), at most.
const maxEnvelope = 512

// namespaceProblem says what is wrong with a namespace name (package
// channels' grammar: a lower-case letter, then up to 31 of [a-z0-9_-]), or
// "".
func namespaceProblem(s string) string {
	switch {
	case len(s) > 32:
		return "longer than 32 bytes"
	case s[0] < 'a' || s[0] > 'z':
		return "must start with a lower-case letter"
	}
	for i := 1; i < len(s); i++ {
		if b := s[i]; !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return fmt.Sprintf("character %q at byte %d not allowed (want a-z, 0-9, _ or -)", b, i)
		}
	}
	return ""
}

// jwt checks the [jwt] table; wharfd reads public_key_file at start.
func (v *checker) jwt() {
	if n := len(v.c.JWT.HMACSecret); n > 0 && n < 32 {
		v.failf("jwt.hmac_secret", "%d bytes: want at least 32, or it can be guessed from any token", n)
	}
	v.nonNegative("jwt.leeway")
}

// push checks the [push] table.
func (v *checker) push() {
	for i, k := range v.c.Push.Keys {
		if len(k) < 16 {
			v.failf(v.l.element("push.keys", i), "a key of %d bytes: want at least 16, or it can be guessed", len(k))
		}
	}
	v.atLeast("push.max_body", 1)
	v.atLeast("push.max_channels", 1)
	v.atLeast("push.rate", 1)
	v.atLeast("push.burst", 1)
	v.notAbove("push.max_channels", "push.burst")
}
