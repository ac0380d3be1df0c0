package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis logs its own events (a pool that cannot dial, a reconnect) with
// the standard library's log package on stderr: plain lines in the middle of
// Proxide's JSON logs, one per failed dial while Redis is down. RouteLogs
// sends them through slog instead, rate-limited per message format.

// logEvery is how often one kind of go-redis message is let through while it
// keeps repeating.
const logEvery = 30 * time.Second

// Logger adapts slog to go-redis's logger and rate-limits it: the first
// message of a format goes out at once, repeats of it at most once per
// logEvery, with the number suppressed in between.
type Logger struct {
	log   *slog.Logger
	now   func() time.Time
	every time.Duration

	mu    sync.Mutex
	kinds map[string]*logKind
}

type logKind struct {
	last       time.Time
	suppressed int
}

// NewLogger returns a go-redis logger writing to log; now nil is time.Now,
// every 0 is logEvery.
func NewLogger(log *slog.Logger, now func() time.Time, every time.Duration) *Logger {
	if now == nil {
		now = time.Now
	}
	if every <= 0 {
		every = logEvery
	}
	return &Logger{log: log, now: now, every: every, kinds: make(map[string]*logKind)}
}

// RouteLogs makes go-redis log through log (rate-limited). go-redis keeps one
// logger for the process, so this is called once, where the app is wired.
func RouteLogs(log *slog.Logger) {
	goredis.SetLogger(NewLogger(log, nil, 0))
}

// Printf implements go-redis's internal.Logging.
func (l *Logger) Printf(ctx context.Context, format string, v ...any) {
	now := l.now()
	l.mu.Lock()
	k := l.kinds[format]
	if k == nil {
		if len(l.kinds) > 256 {
			clear(l.kinds) // formats are a handful of constants; bound it anyway
		}
		k = &logKind{}
		l.kinds[format] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < l.every {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	l.mu.Unlock()

	attrs := []any{"component", "go-redis"}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...), attrs...)
}
