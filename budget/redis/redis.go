// Package redis is the shared store of Proxide on Redis, Redis Cluster or Sentinel: the
// budget.Store of budget/memory with the same semantics (one contract suite,
// budget/ledgertest), for every replica at once. Every operation on a client is one Lua
// script (lua/*.lua) over keys that share the client's hash tag; README.md in budget/
// documents the key layout.
package redis

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// DefaultPrefix starts every Redis key.
const DefaultPrefix = "px"

// loadTimeout bounds the SCRIPT LOAD done by New.
const loadTimeout = 5 * time.Second

// Options configure New and Open.
type Options struct {
	// Prefix starts every key (default "px"); it must not contain '{' or '}', which would
	// change the Redis Cluster hash tag.
	Prefix string
	// Retention keeps day and month data this long after the period ends (default 90 days).
	Retention time.Duration
	// IndexEvery is how often the client index and global aggregates are written
	// (default DefaultIndexEvery, 250 ms).
	IndexEvery time.Duration
	// Logger receives index write failures and skipped corrupt rules (default slog.Default()).
	Logger *slog.Logger
}

// Store is the shared budget.Store on Redis or Redis Cluster. Every operation is one Lua
// script (one round trip) over keys of a single client, which share one hash tag and so
// one Cluster slot.
//
// The client index and the global aggregates are written by a background batcher (see
// FlushIndex), never on the request path; they lag by up to Options.IndexEvery.
type Store struct {
	c         goredis.UniversalClient
	owned     bool // opened by Open: Close closes the client
	prefix    string
	retention time.Duration
	log       *slog.Logger
	scripts   scripts
	idx       *batcher
	pipe      *pipeline // Reserve and Settle of concurrent requests, sent together
	maxRules  int       // rules.MaxStored; lowered by tests
}

var _ budget.Store = (*Store)(nil)

// New returns a store on client and loads its scripts (SCRIPT LOAD, on every master of a
// cluster). Scripts are run with EVALSHA and fall back to EVAL on NOSCRIPT, so a restarted
// or failed-over Redis keeps working, and a Redis that is down at start-up is not fatal.
// Close does not close a client passed here.
func New(client goredis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("budget/redis: New: nil client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("budget/redis: prefix %q must not contain '{' or '}'", opts.Prefix)
	}
	if opts.Retention <= 0 {
		opts.Retention = budget.DefaultRetention
	}
	if opts.IndexEvery <= 0 {
		opts.IndexEvery = DefaultIndexEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Store{
		c:         client,
		prefix:    opts.Prefix,
		retention: opts.Retention,
		log:       opts.Logger,
		scripts:   newScripts(),
		maxRules:  rules.MaxStored,
	}
	// Preloading only saves the first EVAL of each script: Script.Run falls back
	// from EVALSHA to EVAL on NOSCRIPT. So a Redis that is down at start-up is
	// not fatal — failure_mode decides what requests get until it is back.
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	for _, s := range r.scripts.all() {
		if err := s.Load(ctx, client).Err(); err != nil {
			opts.Logger.Warn("redis unreachable at start-up; scripts load on first use", "err", err)
			break
		}
	}
	r.idx = newBatcher(r, opts.Logger, opts.IndexEvery)
	r.pipe = newPipeline(client)
	return r, nil
}

// Ping implements budget.Store: it checks that Redis answers (readiness).
func (r *Store) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: ping: %w", budget.ErrUnavailable, err)
	}
	return nil
}

// FlushIndex implements budget.Store: it writes the pending client index, aggregate and
// loop listing updates now, and waits for a flush already in progress. After it returns,
// everything settled before the call is visible to ListClients, GlobalHistory and the
// all-clients LoopEvents.
func (r *Store) FlushIndex(ctx context.Context) error { return r.idx.flush(ctx) }

// Close stops the index batcher after a final flush (bounded by 5 s), then closes the
// client if Open created it. A failed final flush loses index and aggregate updates
// only (never client spend); it is returned as an error.
func (r *Store) Close() error {
	err := r.idx.close()
	r.pipe.close()
	if r.owned {
		// go-redis's Sentinel (failover) client closes its sentinel connection
		// twice and reports the second as ErrClosed: nothing failed.
		if cerr := r.c.Close(); !errors.Is(cerr, goredis.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// keys are one client's Redis keys; see README.md.
type keys struct{ res, resx, rsv, done, day, month string }

// clientBase is "<prefix>:{<base64url(clientID)>}:". The tag keeps a client's keys in one
// Cluster slot; base64url keeps raw ids (which may hold '{', ':' or spaces) out of keys
// while staying reversible for operators.
func (r *Store) clientBase(clientID string) string {
	var b strings.Builder
	b.Grow(len(r.prefix) + 4 + base64.RawURLEncoding.EncodedLen(len(clientID)))
	b.WriteString(r.prefix)
	b.WriteString(":{")
	b.WriteString(base64.RawURLEncoding.EncodeToString([]byte(clientID)))
	b.WriteString("}:")
	return b.String()
}

func (r *Store) keys(clientID string, p budget.Periods) keys {
	base := r.clientBase(clientID)
	return keys{
		res:   base + "res",
		resx:  base + "resx",
		rsv:   base + "rsv",
		done:  base + "done",
		day:   base + "d:" + p.Day.Key,
		month: base + "m:" + p.Month.Key,
	}
}

// unavailable wraps a store error.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", budget.ErrUnavailable, op, err)
}

func limitArg(l rules.Limit) string {
	if !l.Set {
		return ""
	}
	return itoa(l.Nano)
}

// keepFor is how long a period's key lives from now: until the period ends, plus retention.
func (r *Store) keepFor(p budget.Period, now time.Time) int64 {
	return (max(p.End.Sub(now), 0) + r.retention).Milliseconds()
}

// truncate shortens s for logs and error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
