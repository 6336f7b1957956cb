package cluster

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"wharf/internal/subject"
)

// Config configures a Node. Zero fields take the defaults in the comments;
// New validates it and names the bad field.
type Config struct {
	// URL is the NATS server to connect to, or several separated by
	// commas (the members of a NATS cluster): "nats://10.0.0.1:4222".
	// Credentials may be in the URL ("nats://user:pass@host:4222") or in
	// Options. Required.
	URL string

	// NodeName names this node in logs and on the dashboard: 1 to 64
	// letters, digits, '_' and '-'. Give every machine its own; the
	// cluster tells nodes apart by name and incarnation (random at each
	// New), so a restarted node, or a reloaded worker beside its draining
	// predecessor, may reuse its name. Required.
	NodeName string

	// Prefix starts every subject the node uses, so that several
	// deployments can share a NATS server: tokens of letters, digits,
	// '_' and '-' separated by '.' ("acme.prod"). Default "wharf".
	Prefix string

	// Heartbeat is how often the node announces itself. Default 1s.
	Heartbeat time.Duration

	// DeadAfter is how long the other nodes wait, without a heartbeat
	// from this node, before they drop its presence; they learn it from
	// the heartbeats. At least twice Heartbeat. Default DefaultDeadBeats
	// heartbeats.
	DeadAfter time.Duration

	// PresenceDelay is how long this node's presence changes wait, to be
	// announced together. Default 10ms.
	PresenceDelay time.Duration

	// ReconnectWait is the pause between attempts to reach the NATS
	// server while it is away. Default 1s (nats.go adds up to 100ms of
	// jitter).
	ReconnectWait time.Duration

	// SendQueue bounds the messages waiting to be written to the NATS
	// connection; Publish refuses more (ErrQueueFull). Default 65536.
	SendQueue int

	// PendingLimit bounds the messages from other nodes waiting for this
	// node's Hub, per subscription; beyond it nats.go drops them (a slow
	// consumer, counted in Stats.Dropped). Default 65536.
	PendingLimit int

	// Connections, if set, reports this node's open connections; the
	// heartbeats carry it, for the other nodes' dashboards. It is called
	// once per heartbeat, from the node's goroutine.
	Connections func() int64

	// Options are more nats.go options (TLS, credentials, a custom
	// dialer), applied after the node's own: the node sets the name, no
	// echo, reconnecting forever, no reconnect buffer and its handlers;
	// override those at your own risk.
	Options []nats.Option

	// Clock tells the time of heartbeats, liveness and lag. Default
	// time.Now.
	Clock func() time.Time

	// Logger logs connection changes, nodes joining and lost, and slow
	// consumers. Default slog.Default().
	Logger *slog.Logger
}

// Defaults for Config.
const (
	DefaultPrefix        = "wharf"
	DefaultHeartbeat     = time.Second
	DefaultDeadBeats     = 3 // DeadAfter, in heartbeats
	DefaultPresenceDelay = 10 * time.Millisecond
	DefaultReconnectWait = time.Second
	DefaultSendQueue     = 65536
	DefaultPendingLimit  = 65536
)

// pendingBytes bounds the bytes of messages waiting per subscription, with
// PendingLimit.
const pendingBytes = 256 << 20

// withDefaults validates cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		return cfg, configError("URL", "is empty")
	}
	if r := subject.NodeNameProblem(cfg.NodeName); r != "" {
		return cfg, configError("NodeName", "%q %s", cfg.NodeName, r)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if r := subject.PrefixProblem(cfg.Prefix); r != "" {
		return cfg, configError("Prefix", "%q %s", cfg.Prefix, r)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Heartbeat", cfg.Heartbeat}, {"DeadAfter", cfg.DeadAfter}, {"PresenceDelay", cfg.PresenceDelay}, {"ReconnectWait", cfg.ReconnectWait}} {
		if d.v < 0 {
			return cfg, configError(d.field, "must not be negative, got %v", d.v)
		}
	}
	switch {
	case cfg.SendQueue < 0:
		return cfg, configError("SendQueue", "must not be negative, got %d", cfg.SendQueue)
	case cfg.PendingLimit < 0:
		return cfg, configError("PendingLimit", "must not be negative, got %d", cfg.PendingLimit)
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Heartbeat < time.Millisecond {
		return cfg, configError("Heartbeat", "must be at least 1ms, got %v", cfg.Heartbeat)
	}
	if cfg.DeadAfter == 0 {
		cfg.DeadAfter = DefaultDeadBeats * cfg.Heartbeat
	}
	if cfg.DeadAfter < 2*cfg.Heartbeat {
		return cfg, configError("DeadAfter", "%v is less than twice Heartbeat (%v): one late heartbeat would drop the node", cfg.DeadAfter, cfg.Heartbeat)
	}
	if cfg.PresenceDelay == 0 {
		cfg.PresenceDelay = DefaultPresenceDelay
	}
	if cfg.PresenceDelay >= cfg.Heartbeat {
		return cfg, configError("PresenceDelay", "%v must be shorter than Heartbeat (%v)", cfg.PresenceDelay, cfg.Heartbeat)
	}
	if cfg.ReconnectWait == 0 {
		cfg.ReconnectWait = DefaultReconnectWait
	}
	if cfg.SendQueue == 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.PendingLimit == 0 {
		cfg.PendingLimit = DefaultPendingLimit
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// RedactURL returns a Config.URL fit for logs: the credentials of each
// comma-separated URL (user and password, or a token) replaced with
// "xxxxx", and a URL that does not parse replaced whole.
func RedactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			parts[i] = "(unparseable URL)"
		case u.User != nil:
			u.User = url.User("xxxxx")
			parts[i] = u.String()
		default:
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
