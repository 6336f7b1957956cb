package channels

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is; the messages carry
// the package prefix, and the wrapping errors add which channel or field
// failed. A protocol layer that shows errors to clients should map these to
// its own short reasons (packet/SPEC.md section 8 lists them) rather than
// send err.Error().
var (
	// ErrInvalidName refuses a channel name outside the grammar; the error
	// is a *NameError saying why.
	ErrInvalidName = errors.New("channels: invalid channel name")
	// ErrUnknownNamespace refuses a channel whose namespace is not
	// configured (or, for a name without ':', when the default namespace is
	// not configured).
	ErrUnknownNamespace = errors.New("channels: unknown namespace")
	// ErrPermissionDenied refuses an operation the namespace's rules do not
	// allow to the client's user.
	ErrPermissionDenied = errors.New("channels: permission denied")
	// ErrChannelFull refuses a subscription beyond Namespace.MaxSubscribers
	// (counted on this node).
	ErrChannelFull = errors.New("channels: channel full")
	// ErrTooManyChannels refuses a subscription beyond
	// Config.MaxChannelsPerClient.
	ErrTooManyChannels = errors.New("channels: too many channels for one connection")
	// ErrAlreadySubscribed refuses a second subscription of one client to
	// one channel.
	ErrAlreadySubscribed = errors.New("channels: already subscribed")
	// ErrNotSubscribed answers an Unsubscribe from a channel the client is
	// not in.
	ErrNotSubscribed = errors.New("channels: not subscribed")
	// ErrClientClosed refuses operations on a Client after Close.
	ErrClientClosed = errors.New("channels: client closed")
	// ErrDataTooLarge refuses a publication or direct message whose data
	// exceeds Config.MaxDataSize.
	ErrDataTooLarge = errors.New("channels: data too large")
	// ErrNoHistory refuses history queries in a namespace without history.
	ErrNoHistory = errors.New("channels: namespace keeps no history")
	// ErrNoPresence refuses presence queries in a namespace without
	// presence.
	ErrNoPresence = errors.New("channels: namespace keeps no presence")
	// ErrNoJoinLeave refuses a subscription asking for join and leave
	// events in a namespace that does not send them.
	ErrNoJoinLeave = errors.New("channels: namespace sends no join/leave events")
	// ErrBadUser refuses a direct message to an empty or malformed user ID.
	ErrBadUser = errors.New("channels: invalid user ID")
	// ErrHistory wraps a failure of the HistoryStore (the database is
	// down, say): the publication was not made.
	ErrHistory = errors.New("channels: history store failed")

	// ErrSubscriberClosed is what a Subscriber's Deliver returns once its
	// connection has closed. The Hub counts it as a drop of reason Closed.
	ErrSubscriberClosed = errors.New("channels: subscriber closed")
	// ErrSubscriberOverloaded is what a Subscriber's Deliver returns when
	// it refuses a message because its send queue is full. The Hub counts
	// it as a drop of reason Overloaded. Any other error counts as Failed.
	ErrSubscriberOverloaded = errors.New("channels: subscriber overloaded")

	// ErrBadMessage refuses a binary Message that does not decode.
	ErrBadMessage = errors.New("channels: malformed message")
	// ErrSchemaTooNew refuses a SQL database migrated by a newer program.
	ErrSchemaTooNew = errors.New("channels: database schema is newer than this program")
)

// NameError says why a channel name was refused. It matches ErrInvalidName
// with errors.Is.
type NameError struct {
	Name   string // the name as given, cut to MaxNameLen+1 bytes
	Reason string // e.g. `character ' ' at byte 4 not allowed`
}

func (e *NameError) Error() string {
	return fmt.Sprintf("channels: invalid channel name %q: %s", e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidName) true.
func (e *NameError) Is(target error) bool { return target == ErrInvalidName }

// ConfigError names the configuration field that failed validation.
type ConfigError struct {
	Field  string // e.g. "Namespaces[1].HistorySize"
	Reason string
}

func (e *ConfigError) Error() string { return "channels: " + e.Field + ": " + e.Reason }

func configError(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
