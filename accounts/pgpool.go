package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgPool is the PostgreSQL store's connection pool: pgxpool, configured from
// StoreOptions. MaxIdleConns maps to pgxpool's MinConns floor only in the
// sense that pgxpool keeps released connections open until MaxConnIdleTime.
type pgPool struct {
	p *pgxpool.Pool
}

// pgHealthCheck is how often pgxpool checks idle connections (a server
// restart then costs a fresh dial, not a failed query).
const pgHealthCheck = time.Second

func newPGPool(rawURL string, opts StoreOptions) (*pgPool, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(opts.MaxOpenConns)
	cfg.MaxConnLifetime = opts.ConnMaxLifetime
	cfg.HealthCheckPeriod = pgHealthCheck
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return &pgPool{p: p}, nil
}

// with runs fn on a pooled connection. A connection that pgx marked broken
// (network error, cancelled query) is discarded on release by pgxpool.
func (p *pgPool) with(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	return p.p.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return fn(c.Conn()) })
}

// close waits for acquired connections to be released, then closes all.
func (p *pgPool) close() { p.p.Close() }
