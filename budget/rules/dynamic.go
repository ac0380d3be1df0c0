package rules

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRefresh is how often Dynamic polls the store's version: every replica
// applies a rule change within about this long (well under a second).
const DefaultRefresh = 500 * time.Millisecond

// initialTimeout bounds the first load in NewDynamic, so an unreachable store
// delays startup by at most this long.
const initialTimeout = 2 * time.Second

// Rule sources reported by Dynamic.Source.
const (
	SourceAPI  = "api"
	SourceFile = "file"
)

// Reader is what Dynamic reads of a Store: the version to poll and the rules to load.
type Reader interface {
	ListRules(ctx context.Context) ([]Rule, error)
	RulesVersion(ctx context.Context) (int64, error)
}

// DynamicOptions configure NewDynamic.
type DynamicOptions struct {
	// File holds the rules of the config file, its default rule included; nil means an
	// unlimited default rule and nothing else.
	File *Set
	// Store holds the rules written through the admin API; nil means File only.
	Store Reader
	// Refresh is the polling interval of Store's version (default 500ms).
	Refresh time.Duration
	// Logger receives load failures (default slog.Default()).
	Logger *slog.Logger
	// OnChange is called (outside any lock) after the effective rule set changed.
	OnChange func()
}

// Dynamic is the rule set extproc and the admin API resolve against: the file rules
// overlaid with the store's rules (an API rule replaces the file rule with the same key,
// the default rule included). A poller reloads the store's rules when its version
// changes; Resolve is one atomic pointer load plus Set.Resolve.
//
// When the store is unreachable at start, Dynamic starts with the file rules and
// keeps retrying; when it becomes unreachable later, the last loaded rules stay in force.
type Dynamic struct {
	file     map[Key]Rule
	store    Reader
	every    time.Duration
	log      *slog.Logger
	onChange func()
	cur      atomic.Pointer[dynState]

	mu      sync.Mutex // serialises loads, so an older load never replaces a newer one
	loaded  bool
	version int64
	failing bool

	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// dynState is one immutable effective rule set.
type dynState struct {
	rules     *Set
	effective []Rule // sorted by Compare
	api       map[Key]bool
}

// NewDynamic builds the rule set from File, loads the store's rules once (ctx and
// 2 s bound that load; a failure is logged, not returned) and starts the poller; Close
// stops it. The error is about invalid options only.
func NewDynamic(ctx context.Context, opts DynamicOptions) (*Dynamic, error) {
	if opts.Refresh < 0 {
		return nil, fmt.Errorf("dynamic rules: refresh %v is negative", opts.Refresh)
	}
	d := &Dynamic{
		file:     map[Key]Rule{{Default: true}: {}},
		store:    opts.Store,
		every:    opts.Refresh,
		log:      opts.Logger,
		onChange: opts.OnChange,
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	if d.every == 0 {
		d.every = DefaultRefresh
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if opts.File != nil {
		d.file[Key{Default: true}] = opts.File.Default()
		for _, r := range opts.File.All() {
			d.file[r.Key()] = r
		}
	}
	st, err := d.build(nil)
	if err != nil {
		return nil, fmt.Errorf("dynamic rules: %w", err)
	}
	d.cur.Store(st)
	if d.store == nil {
		close(d.stopped)
		return d, nil
	}
	lctx, cancel := context.WithTimeout(ctx, initialTimeout)
	if _, err := d.load(lctx, true); err != nil {
		d.log.Warn("rules: rule store unreachable, starting with the config file rules; retrying", "error", err)
	}
	cancel()
	// ctx bounds the first load only: the poller runs until Close, so it keeps
	// ctx's values but not its cancellation.
	go d.loop(context.WithoutCancel(ctx))
	return d, nil
}

// Resolve returns the rule of clientID: exact id > longest matching prefix > default.
func (d *Dynamic) Resolve(clientID string) Rule { return d.cur.Load().rules.Resolve(clientID) }

// Refresh reloads the store's rules now, whatever the version says. The admin API calls
// it after a write so that this replica applies the change on the very next request.
func (d *Dynamic) Refresh(ctx context.Context) error {
	if d.store == nil {
		return nil
	}
	changed, err := d.load(ctx, true)
	if changed && d.onChange != nil {
		d.onChange()
	}
	return err
}

// Effective returns the merged rule set (copies), the default rule first, then patterns,
// then client ids.
func (d *Dynamic) Effective() []Rule {
	eff := d.cur.Load().effective
	out := make([]Rule, len(eff))
	for i, r := range eff {
		out[i] = r.Clone()
	}
	return out
}

// Source tells where the effective rule with key k comes from: SourceAPI, SourceFile,
// or "" when no rule has that key. The default rule always exists; without an API
// default it is the file's (or the built-in unlimited one) and reports SourceFile.
func (d *Dynamic) Source(k Key) string {
	if d.cur.Load().api[k] {
		return SourceAPI
	}
	if _, ok := d.file[k]; ok {
		return SourceFile
	}
	return ""
}

// Close stops the poller and waits for it.
func (d *Dynamic) Close() {
	d.once.Do(func() {
		if d.store != nil {
			close(d.stop)
		}
		<-d.stopped
	})
}

func (d *Dynamic) loop(ctx context.Context) {
	defer close(d.stopped)
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			lctx, cancel := context.WithTimeout(ctx, max(d.every, time.Second))
			changed, _ := d.load(lctx, false) // failures are logged and retried next tick
			cancel()
			if changed && d.onChange != nil {
				d.onChange()
			}
		}
	}
}

// load reads the store's version and, when it differs from the loaded one (or force),
// its rules, and swaps the effective set. It reports whether the set changed.
func (d *Dynamic) load(ctx context.Context, force bool) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Read the version first: a write after this read bumps it again, so the next poll
	// reloads and no change is ever missed.
	v, err := d.store.RulesVersion(ctx)
	if err != nil {
		return false, d.failed(err)
	}
	if !force && d.loaded && v == d.version {
		return false, nil
	}
	api, err := d.store.ListRules(ctx)
	if err != nil {
		return false, d.failed(err)
	}
	if d.failing {
		d.failing = false
		d.log.Info("rules: rule store reachable again", "rules", len(api))
	}
	d.loaded, d.version = true, v
	st, err := d.build(api)
	if err != nil { // cannot happen with stores that validate; keep the rules in force
		d.log.Error("rules: stored rules rejected, keeping the previous rules", "error", err)
		return false, err
	}
	old := d.cur.Swap(st)
	return !reflect.DeepEqual(old.effective, st.effective), nil
}

// failed logs the start of a store outage once and returns err.
func (d *Dynamic) failed(err error) error {
	if !d.failing {
		d.failing = true
		d.log.Warn("rules: cannot load rules from the store; keeping the rules in force", "error", err)
	}
	return fmt.Errorf("dynamic rules: %w", err)
}

// build overlays the API rules on the file rules.
func (d *Dynamic) build(api []Rule) (*dynState, error) {
	merged := make(map[Key]Rule, len(d.file)+len(api))
	for k, r := range d.file {
		merged[k] = r
	}
	st := &dynState{api: make(map[Key]bool, len(api))}
	for _, r := range api {
		k := r.Key()
		merged[k] = r
		st.api[k] = true
	}
	def := merged[Key{Default: true}]
	others := make([]Rule, 0, len(merged))
	for k, r := range merged {
		if !k.Default {
			others = append(others, r)
		}
	}
	rules, err := NewSet(def, others)
	if err != nil {
		return nil, err
	}
	st.rules = rules
	st.effective = append(make([]Rule, 0, len(merged)), def)
	st.effective = append(st.effective, others...)
	Sort(st.effective)
	return st, nil
}
