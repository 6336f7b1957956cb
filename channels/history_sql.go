package channels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SQL dialects an SQLHistory speaks.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// SQLDatabase is a database to keep history in. wharfd passes the accounts
// database (accounts.DatabaseOf returns its handles), so one file or one
// PostgreSQL database holds everything and no second pool is opened.
type SQLDatabase struct {
	// Dialect is DialectSQLite or DialectPostgres.
	Dialect string
	// Writer runs the appends' transactions and the migrations; Reader
	// runs reads. They may be the same handle. For SQLite, Writer should
	// be a single connection that begins transactions IMMEDIATE (as the
	// accounts store's is), so writers queue in Go instead of failing with
	// SQLITE_BUSY.
	Writer, Reader *sql.DB
}

// SQLHistoryConfig configures an SQLHistory. Zero fields take the defaults
// in the comments.
type SQLHistoryConfig struct {
	// StreamTTL is how long a channel's stream (its epoch and offset)
	// outlives its last publication; see HistoryStore. Default
	// DefaultStreamTTL.
	StreamTTL time.Duration
}

// SQLHistory is the HistoryStore in SQLite or PostgreSQL. It survives
// restarts: epochs and offsets are kept, so clients of a restarted server
// recover what they missed.
//
// Offsets are allocated by the database: each append is one transaction
// that increments the channel's row in channels_streams (an upsert, which
// holds that row's lock until commit), inserts the entry and trims the
// window. Appends to one channel from several processes or nodes therefore
// get consecutive offsets, committed in offset order.
//
// It uses the handles of its SQLDatabase and never closes them: close the
// database's owner (the accounts store) after the last call.
type SQLHistory struct {
	w, r      *sql.DB
	q         sqlQueries
	streamTTL time.Duration
}

var _ HistoryStore = (*SQLHistory)(nil)

// sqlQueries are the statements, written with $n placeholders and rebound
// to ?n for SQLite. Times are Unix microseconds in BIGINT columns (ms for
// a publication's own time, which is Message.Time), the same in both
// dialects, so one code path serves both.
type sqlQueries struct {
	upsertStream, clearStream, insertEntry, trim string
	position, readOldest, readNewest             string
	expireEntries, expireStreams                 string
}

var pgQueries = sqlQueries{
	// A stream past its expiry restarts: offset 1, the new epoch ($2).
	upsertStream: `INSERT INTO channels_streams (channel, epoch, top, expires_us) VALUES ($1, $2, 1, $3)
		ON CONFLICT (channel) DO UPDATE SET
			top = CASE WHEN channels_streams.expires_us <= $4 THEN 1 ELSE channels_streams.top + 1 END,
			epoch = CASE WHEN channels_streams.expires_us <= $4 THEN excluded.epoch ELSE channels_streams.epoch END,
			expires_us = excluded.expires_us
		RETURNING top, epoch`,
	clearStream: `DELETE FROM channels_history WHERE channel = $1`,
	insertEntry: `INSERT INTO channels_history (channel, off, from_user, time_ms, expires_us, data) VALUES ($1, $2, $3, $4, $5, $6)`,
	trim:        `DELETE FROM channels_history WHERE channel = $1 AND off <= $2`,
	position:    `SELECT epoch, top FROM channels_streams WHERE channel = $1 AND expires_us > $2`,
	// One statement, so the position and the entries come from one
	// snapshot; the LEFT JOIN yields one row of NULL entry columns when no
	// entry matches.
	readOldest: `SELECT s.epoch, s.top, h.off, h.from_user, h.time_ms, h.data
		FROM channels_streams s LEFT JOIN channels_history h
			ON h.channel = s.channel AND h.off > $2 AND h.off <= s.top AND h.expires_us > $3
		WHERE s.channel = $1 AND s.expires_us > $3
		ORDER BY h.off LIMIT $4`,
	readNewest: `SELECT s.epoch, s.top, h.off, h.from_user, h.time_ms, h.data
		FROM channels_streams s LEFT JOIN channels_history h
			ON h.channel = s.channel AND h.off > $2 AND h.off <= s.top AND h.expires_us > $3
		WHERE s.channel = $1 AND s.expires_us > $3
		ORDER BY h.off DESC LIMIT $4`,
	expireEntries: `DELETE FROM channels_history WHERE expires_us <= $1`,
	expireStreams: `DELETE FROM channels_streams WHERE expires_us <= $1`,
}

// rebind returns q with $n placeholders turned into SQLite's ?n.
func (q sqlQueries) rebind() sqlQueries {
	r := strings.NewReplacer("$", "?")
	for _, s := range []*string{&q.upsertStream, &q.clearStream, &q.insertEntry, &q.trim, &q.position,
		&q.readOldest, &q.readNewest, &q.expireEntries, &q.expireStreams} {
		*s = r.Replace(*s)
	}
	return q
}

// sqlMigration is one step of the schema history. A released migration is
// never edited, only followed by a new one.
type sqlMigration struct {
	version int
	stmts   []string
}

// The schema, per dialect. channels_streams holds each channel's epoch and
// newest offset (the offset counter); channels_history the entries, keyed
// by (channel, offset). Both have an index on expiry for Expire.
var sqliteMigrations = []sqlMigration{
	{version: 1, stmts: []string{
		`CREATE TABLE channels_streams (
			channel    TEXT    NOT NULL PRIMARY KEY,
			epoch      TEXT    NOT NULL,
			top        INTEGER NOT NULL,
			expires_us INTEGER NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX channels_streams_expires ON channels_streams (expires_us)`,
		`CREATE TABLE channels_history (
			channel    TEXT    NOT NULL,
			off        INTEGER NOT NULL,
			from_user  TEXT    NOT NULL,
			time_ms    INTEGER NOT NULL,
			expires_us INTEGER NOT NULL,
			data       BLOB    NOT NULL,
			PRIMARY KEY (channel, off)
		) WITHOUT ROWID`,
		`CREATE INDEX channels_history_expires ON channels_history (expires_us)`,
	}},
}

var pgMigrations = []sqlMigration{
	{version: 1, stmts: []string{
		`CREATE TABLE channels_streams (
			channel    TEXT   NOT NULL PRIMARY KEY,
			epoch      TEXT   NOT NULL,
			top        BIGINT NOT NULL,
			expires_us BIGINT NOT NULL
		)`,
		`CREATE INDEX channels_streams_expires ON channels_streams (expires_us)`,
		`CREATE TABLE channels_history (
			channel    TEXT   NOT NULL,
			off        BIGINT NOT NULL,
			from_user  TEXT   NOT NULL,
			time_ms    BIGINT NOT NULL,
			expires_us BIGINT NOT NULL,
			data       BYTEA  NOT NULL,
			PRIMARY KEY (channel, off)
		)`,
		`CREATE INDEX channels_history_expires ON channels_history (expires_us)`,
	}},
}

// pgMigrationLock is the advisory lock key serialising concurrent
// migrations on PostgreSQL ("wharfchn" in ASCII; accounts uses "wharfacc").
const pgMigrationLock int64 = 0x776861726663686e

// OpenSQLHistory returns an SQLHistory on db, creating or migrating its
// tables (channels_streams, channels_history, and channels_migrations for
// the schema version) in one transaction. Concurrent openers take turns:
// SQLite's IMMEDIATE transaction or a PostgreSQL advisory lock. ctx bounds
// the opening only.
func OpenSQLHistory(ctx context.Context, db SQLDatabase, cfg SQLHistoryConfig) (*SQLHistory, error) {
	switch {
	case db.Writer == nil:
		return nil, configError("SQLDatabase.Writer", "is nil")
	case cfg.StreamTTL < 0:
		return nil, configError("SQLHistoryConfig.StreamTTL", "must not be negative, got %v", cfg.StreamTTL)
	}
	if db.Reader == nil {
		db.Reader = db.Writer
	}
	if cfg.StreamTTL == 0 {
		cfg.StreamTTL = DefaultStreamTTL
	}
	h := &SQLHistory{w: db.Writer, r: db.Reader, streamTTL: cfg.StreamTTL}
	var migrations []sqlMigration
	switch db.Dialect {
	case DialectSQLite:
		h.q, migrations = pgQueries.rebind(), sqliteMigrations
	case DialectPostgres:
		h.q, migrations = pgQueries, pgMigrations
	default:
		return nil, configError("SQLDatabase.Dialect", "%q: want %q or %q", db.Dialect, DialectSQLite, DialectPostgres)
	}
	if err := h.migrate(ctx, db.Dialect, migrations); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *SQLHistory) migrate(ctx context.Context, dialect string, migrations []sqlMigration) error {
	tx, err := h.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("channels: migrate %s: %w", dialect, err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if dialect == DialectPostgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
			return fmt.Errorf("channels: migrate %s: %w", dialect, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS channels_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_us BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("channels: migrate %s: %w", dialect, err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM channels_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("channels: migrate %s: %w", dialect, err)
	}
	if latest := migrations[len(migrations)-1].version; current > latest {
		return fmt.Errorf("%w: %s schema version %d, this program knows up to %d", ErrSchemaTooNew, dialect, current, latest)
	}
	insert := `INSERT INTO channels_migrations (version, applied_us) VALUES ($1, $2)`
	if dialect == DialectSQLite {
		insert = strings.ReplaceAll(insert, "$", "?")
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("channels: migrate %s to version %d: %w", dialect, m.version, err)
			}
		}
		if _, err := tx.ExecContext(ctx, insert, m.version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("channels: migrate %s to version %d: %w", dialect, m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("channels: migrate %s: %w", dialect, err)
	}
	return nil
}

// Append implements HistoryStore in one transaction on the writer.
func (h *SQLHistory) Append(ctx context.Context, m *Message, opts AppendOptions) (Position, error) {
	now := opts.Now.UnixMicro()
	size := int64(max(opts.Size, 1))
	pos, err := h.append(ctx, m, now, size, now+streamLife(h.streamTTL, opts.TTL).Microseconds(), now+opts.TTL.Microseconds())
	if err != nil {
		return Position{}, fmt.Errorf("channels: append to history of %q: %w", m.Channel, err)
	}
	return pos, nil
}

func (h *SQLHistory) append(ctx context.Context, m *Message, now, size, streamExpires, entryExpires int64) (Position, error) {
	tx, err := h.w.BeginTx(ctx, nil)
	if err != nil {
		return Position{}, err
	}
	defer tx.Rollback() // after Commit, a no-op
	var (
		top   int64
		epoch string
	)
	if err := tx.QueryRowContext(ctx, h.q.upsertStream, m.Channel, newEpoch(), streamExpires, now).Scan(&top, &epoch); err != nil {
		return Position{}, err
	}
	if top == 1 { // a new stream: drop entries left by a forgotten epoch
		if _, err := tx.ExecContext(ctx, h.q.clearStream, m.Channel); err != nil {
			return Position{}, err
		}
	}
	data := m.Data
	if data == nil {
		data = []byte{} // the column is NOT NULL
	}
	if _, err := tx.ExecContext(ctx, h.q.insertEntry, m.Channel, top, m.From, m.Time, entryExpires, data); err != nil {
		return Position{}, err
	}
	if top > size {
		if _, err := tx.ExecContext(ctx, h.q.trim, m.Channel, top-size); err != nil {
			return Position{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Position{}, err
	}
	return Position{Offset: uint64(top), Epoch: epoch}, nil
}

// Read implements HistoryStore with one statement on the reader.
func (h *SQLHistory) Read(ctx context.Context, ch string, q Query, now time.Time) ([]Message, Position, error) {
	msgs, pos, err := h.read(ctx, ch, q, now.UnixMicro())
	if err != nil {
		return nil, Position{}, fmt.Errorf("channels: read history of %q: %w", ch, err)
	}
	return msgs, pos, nil
}

func (h *SQLHistory) read(ctx context.Context, ch string, q Query, now int64) ([]Message, Position, error) {
	var (
		top   int64
		epoch string
	)
	if q.Limit <= 0 {
		err := h.r.QueryRowContext(ctx, h.q.position, ch, now).Scan(&epoch, &top)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, Position{}, nil
		}
		return nil, Position{Offset: uint64(top), Epoch: epoch}, err
	}
	stmt := h.q.readOldest
	if q.Newest {
		stmt = h.q.readNewest
	}
	rows, err := h.r.QueryContext(ctx, stmt, ch, int64(q.After), now, q.Limit)
	if err != nil {
		return nil, Position{}, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var (
			off, ts sql.NullInt64
			from    sql.NullString
			data    []byte
		)
		if err := rows.Scan(&epoch, &top, &off, &from, &ts, &data); err != nil {
			return nil, Position{}, err
		}
		if !off.Valid { // the LEFT JOIN's row of no entry
			continue
		}
		out = append(out, Message{Kind: KindPublication, Channel: ch, From: from.String,
			Offset: uint64(off.Int64), Epoch: epoch, Time: ts.Int64, Data: data})
	}
	if err := rows.Err(); err != nil {
		return nil, Position{}, err
	}
	if q.Newest {
		slices.Reverse(out)
	}
	return out, Position{Offset: uint64(top), Epoch: epoch}, nil
}

// Expire implements HistoryStore: it deletes expired entries and streams.
func (h *SQLHistory) Expire(ctx context.Context, now time.Time) error {
	for _, stmt := range []string{h.q.expireEntries, h.q.expireStreams} {
		if _, err := h.w.ExecContext(ctx, stmt, now.UnixMicro()); err != nil {
			return fmt.Errorf("channels: expire history: %w", err)
		}
	}
	return nil
}
