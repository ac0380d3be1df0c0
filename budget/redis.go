package budget

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/loop"
)

var (
	//go:embed lua/common.lua
	luaCommon string
	//go:embed lua/reserve.lua
	luaReserve string
	//go:embed lua/settle.lua
	luaSettle string
	//go:embed lua/spend.lua
	luaSpend string
	//go:embed lua/rules.lua
	luaRules string
	//go:embed lua/rule_put.lua
	luaRulePut string
	//go:embed lua/rule_del.lua
	luaRuleDel string
	//go:embed lua/page.lua
	luaPage string
	//go:embed lua/extend.lua
	luaExtend string
	//go:embed lua/hold.lua
	luaHold string
)

// Statuses returned by lua/reserve.lua.
const (
	reserveStatusRefused   = 0
	reserveStatusReserved  = 1
	reserveStatusDuplicate = 2
	reserveStatusSettled   = 3
	reserveStatusLoop      = 4
)

// Statuses returned by lua/settle.lua.
const (
	settleStatusDuplicate = 0
	settleStatusSettled   = 1
	settleStatusNotHeld   = 2
)

// DefaultPrefix starts every Redis key.
const DefaultPrefix = "px"

// loadTimeout bounds the SCRIPT LOAD done by NewRedis.
const loadTimeout = 5 * time.Second

// RedisOptions configure NewRedis and OpenRedis.
type RedisOptions struct {
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

// Redis is the shared Ledger on Redis or Redis Cluster. Every operation is one Lua script
// (one round trip) over keys of a single client, which share one hash tag and so one
// Cluster slot. The key layout is documented in README.md.
//
// Redis also implements RuleStore and ClientIndex. The client index and the global
// aggregates are written by a background batcher (see FlushIndex), never on the request
// path; they lag by up to IndexEvery.
type Redis struct {
	c                     redis.UniversalClient
	owned                 bool // opened by OpenRedis: Close closes the client
	prefix                string
	retention             time.Duration
	log                   *slog.Logger
	reserve, settle, read *redis.Script
	extend, hold          *redis.Script
	rulePut, ruleDel      *redis.Script
	page                  *redis.Script
	idx                   *batcher
	maxRules              int // MaxStoredRules; lowered by tests
}

var _ Ledger = (*Redis)(nil)

// NewRedis returns a ledger on client and loads its scripts (SCRIPT LOAD, on every master
// of a cluster). Scripts are run with EVALSHA and fall back to EVAL on NOSCRIPT, so a
// restarted or failed-over Redis keeps working. An unreachable Redis is an error wrapping
// ErrUnavailable. Close does not close a client passed here.
func NewRedis(client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if client == nil {
		return nil, errors.New("budget: NewRedis: nil client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("budget: redis prefix %q must not contain '{' or '}'", opts.Prefix)
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.IndexEvery <= 0 {
		opts.IndexEvery = DefaultIndexEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Redis{
		c:         client,
		prefix:    opts.Prefix,
		retention: opts.Retention,
		log:       opts.Logger,
		reserve:   redis.NewScript(luaCommon + loop.WindowLua + luaReserve),
		settle:    redis.NewScript(luaCommon + luaSettle),
		read:      redis.NewScript(luaCommon + luaSpend),
		extend:    redis.NewScript(luaCommon + luaExtend),
		hold:      redis.NewScript(luaCommon + luaHold),
		rulePut:   redis.NewScript(luaRules + luaRulePut),
		ruleDel:   redis.NewScript(luaRules + luaRuleDel),
		page:      redis.NewScript(luaPage),
		maxRules:  MaxStoredRules,
	}
	// Preloading only saves the first EVAL of each script: Script.Run falls back
	// from EVALSHA to EVAL on NOSCRIPT. So a Redis that is down at start-up is
	// not fatal — failure_mode decides what requests get until it is back.
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	for _, s := range []*redis.Script{r.reserve, r.settle, r.read, r.extend, r.hold, r.rulePut, r.ruleDel, r.page} {
		if err := s.Load(ctx, client).Err(); err != nil {
			opts.Logger.Warn("redis unreachable at start-up; scripts load on first use", "err", err)
			break
		}
	}
	r.idx = newBatcher(r, opts.Logger, opts.IndexEvery)
	return r, nil
}

// Ping checks that Redis answers (for readiness probes).
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: ping: %w", ErrUnavailable, err)
	}
	return nil
}

// FlushIndex writes the pending client index and aggregate updates now, and waits for
// a flush already in progress. After it returns, everything settled before the call is
// visible to ListClients and GlobalHistory (tests use it instead of waiting).
func (r *Redis) FlushIndex(ctx context.Context) error { return r.idx.flush(ctx) }

// Close stops the index batcher after a final flush (bounded by 5 s), then closes the
// client if OpenRedis created it. A failed final flush loses index and aggregate updates
// only (never client spend); it is returned as an error.
func (r *Redis) Close() error {
	err := r.idx.close()
	if r.owned {
		err = errors.Join(err, r.c.Close())
	}
	return err
}

// keys are one client's Redis keys; see README.md.
type keys struct{ res, resx, rsv, done, day, month string }

// clientBase is "<prefix>:{<base64url(clientID)>}:". The tag keeps a client's keys in one
// Cluster slot; base64url keeps raw ids (which may hold '{', ':' or spaces) out of keys
// while staying reversible for operators.
func (r *Redis) clientBase(clientID string) string {
	var b strings.Builder
	b.Grow(len(r.prefix) + 4 + base64.RawURLEncoding.EncodedLen(len(clientID)))
	b.WriteString(r.prefix)
	b.WriteString(":{")
	b.WriteString(base64.RawURLEncoding.EncodeToString([]byte(clientID)))
	b.WriteString("}:")
	return b.String()
}

func (r *Redis) keys(clientID string, p Periods) keys {
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
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func limitArg(l Limit) string {
	if !l.Set {
		return ""
	}
	return itoa(l.Nano)
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// keepFor is how long a period's key lives from now: until the period ends, plus retention.
func (r *Redis) keepFor(p Period, now time.Time) int64 {
	return (max(p.End.Sub(now), 0) + r.retention).Milliseconds()
}

// Reserve implements Ledger in one round trip (lua/reserve.lua). With req.Loop the same
// script runs the loop window first (loop.WindowLua) and records a new loop's event in
// the client's list; the batcher copies it to the all-clients listing.
func (r *Redis) Reserve(ctx context.Context, req ReserveRequest) (Admission, error) {
	ttl, err := req.validate()
	if err != nil {
		return Admission{}, err
	}
	k := r.keys(req.ClientID, req.Periods)
	now := req.Now.UnixMilli()
	keys := []string{k.res, k.resx, k.rsv, k.done, k.day, k.month}
	args := make([]any, 0, 23)
	args = append(args, req.ID, itoa(now), itoa(req.EstimateNano), req.Periods.Day.Key, req.Periods.Month.Key,
		limitArg(req.Rule.Daily), limitArg(req.Rule.Monthly), boolArg(req.Rule.Blocks()),
		itoa(now+ttl.Milliseconds()), itoa(2*ttl.Milliseconds()), boolArg(req.Rule.Strict()))
	if lc := req.Loop; lc != nil {
		base := r.clientBase(req.ClientID)
		keys = append(keys, base+"loop", base+"loopev")
		for _, a := range loop.LuaArgs(req.Now, lc.Sig, lc.Config) {
			args = append(args, a)
		}
		args = append(args, boolArg(lc.Block), loopEntryTail(lc),
			strconv.Itoa(MaxClientLoopEvents), itoa(LoopEventTTL.Milliseconds()))
	}
	v, err := r.reserve.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return Admission{}, unavailable("reserve", err)
	}
	rep := reply{v: v}
	status := rep.int(0)
	day := PeriodSpend{SpentNano: rep.int(1), ReservedNano: rep.int(2), Limit: req.Rule.Daily}
	month := PeriodSpend{SpentNano: rep.int(3), ReservedNano: rep.int(4), Limit: req.Rule.Monthly}
	if rep.err != nil {
		return Admission{}, unavailable("reserve", rep.err)
	}
	if len(v) != 11 {
		return Admission{}, unavailable("reserve", fmt.Errorf("reply has %d elements, want 11", len(v)))
	}
	r.charged(req.ClientID, rep.list(10), req.Now)
	var lv loop.Verdict
	if req.Loop != nil && (status == reserveStatusRefused || status == reserveStatusReserved || status == reserveStatusLoop) {
		if lv, err = loop.ParseLuaReply(v[5:10]); err != nil {
			return Admission{}, unavailable("reserve", err)
		}
		if lv.Loop && !lv.Cooldown {
			// The script recorded the event in the client's list; the batcher adds the
			// same entry to the all-clients listing, so Reserve stays one round trip.
			r.idx.loopEvent(now, loopMember(req.ClientID, loopEntryHead(now, lv)+loopEntryTail(req.Loop)))
		}
	}
	var a Admission
	switch status {
	case reserveStatusRefused:
		a = admission(req.Periods, day, month, false, false, req.EstimateNano, req.Rule.Strict())
	case reserveStatusReserved:
		a = admission(req.Periods, day, month, true, true, req.EstimateNano, req.Rule.Strict())
	case reserveStatusDuplicate:
		a = admission(req.Periods, day, month, true, false, req.EstimateNano, req.Rule.Strict())
		a.Duplicate = true
	case reserveStatusSettled:
		return Admission{}, fmt.Errorf("%w: reserve: id %q was already settled", ErrInvalid, req.ID)
	case reserveStatusLoop:
		a = Admission{Day: day, Month: month}
	default:
		return Admission{}, unavailable("reserve", fmt.Errorf("unexpected status %d", status))
	}
	a.Loop = lv
	return a, nil
}

// Settle implements Ledger in one round trip (lua/settle.lua).
func (r *Redis) Settle(ctx context.Context, s SettleRequest) (SettleResult, error) {
	if err := s.validate(); err != nil {
		return SettleResult{}, err
	}
	k := r.keys(s.ClientID, s.Periods)
	marks := s.Rule.marks()
	model := modelName(s.Model)
	dayKeep, monthKeep := r.keepFor(s.Periods.Day, s.Now), r.keepFor(s.Periods.Month, s.Now)
	args := make([]any, 0, 17+3*len(marks)+2*len(s.Remember))
	args = append(args,
		s.ID, itoa(s.Now.UnixMilli()), itoa(s.ActualNano), boolArg(s.Failed), boolArg(s.Estimated), model,
		itoa(s.Tokens.Prompt), itoa(s.Tokens.Cached), itoa(s.Tokens.Completion), itoa(s.Tokens.Reasoning),
		s.Periods.Day.Key, s.Periods.Month.Key,
		itoa(dayKeep), itoa(monthKeep), itoa(SettledTTL.Milliseconds()), boolArg(s.OnlyIfHeld),
		strconv.Itoa(len(marks)),
	)
	for _, m := range marks {
		kind := "d"
		if m.kind == Monthly {
			kind = "m"
		}
		args = append(args, kind, m.field(), itoa(m.amount))
	}
	keys := []string{k.res, k.resx, k.rsv, k.done, k.day, k.month}
	for _, rm := range s.Remember {
		keys = append(keys, r.contextKey(s.ClientID, rm.Key))
		args = append(args, itoa(rm.Tokens), itoa(rm.TTL.Milliseconds()))
	}
	v, err := r.settle.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return SettleResult{}, unavailable("settle", err)
	}
	rep := reply{v: v}
	status := rep.int(0)
	r.charged(s.ClientID, rep.list(6), s.Now)
	out := SettleResult{
		Duplicate: status == settleStatusDuplicate,
		NotHeld:   status == settleStatusNotHeld,
		Day:       PeriodSpend{SpentNano: rep.int(1), ReservedNano: rep.int(2), Limit: s.Rule.Daily},
		Month:     PeriodSpend{SpentNano: rep.int(3), ReservedNano: rep.int(4), Limit: s.Rule.Monthly},
	}
	for _, i := range rep.ints(5) {
		if i < 1 || int(i) > len(marks) {
			rep.err = fmt.Errorf("threshold index %d out of range", i)
			break
		}
		m := marks[i-1]
		spent := out.Day.SpentNano
		if m.kind == Monthly {
			spent = out.Month.SpentNano
		}
		out.Crossings = append(out.Crossings, Crossing{Kind: m.kind, Threshold: m.fraction, SpentNano: spent, LimitNano: m.limit})
	}
	if rep.err != nil {
		return SettleResult{}, unavailable("settle", rep.err)
	}
	if status == settleStatusSettled {
		// The script's totals are authoritative; the batcher writes them to the index
		// later, so this request pays no extra round trip.
		r.idx.settled(s, model, out.Day.SpentNano, out.Month.SpentNano, dayKeep, monthKeep)
	}
	return out, nil
}

// Spend implements Ledger in one round trip (lua/spend.lua).
func (r *Redis) Spend(ctx context.Context, clientID string, rule Rule, p Periods, now time.Time) (ClientSpend, error) {
	if err := validateSpend(clientID, rule, p, now); err != nil {
		return ClientSpend{}, err
	}
	k := r.keys(clientID, p)
	v, err := r.read.Run(ctx, r.c, []string{k.res, k.resx, k.rsv, k.day, k.month, k.done},
		itoa(now.UnixMilli()), p.Day.Key, p.Month.Key).Slice()
	if err != nil {
		return ClientSpend{}, unavailable("spend", err)
	}
	rep := reply{v: v}
	flat := rep.strings(0)
	r.charged(clientID, rep.list(4), now)
	out := ClientSpend{
		ClientID: clientID,
		Day:      PeriodSpend{ReservedNano: rep.int(2), Limit: rule.Daily},
		Month:    PeriodSpend{SpentNano: rep.int(1), ReservedNano: rep.int(3), Limit: rule.Monthly},
	}
	if rep.err != nil {
		return ClientSpend{}, unavailable("spend", rep.err)
	}
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		h[flat[i]] = flat[i+1]
	}
	out.Today = parseDayHash(p.Day.Key, h)
	out.Day.SpentNano = out.Today.CostNano
	return out, nil
}

// History implements Ledger with one pipelined HGETALL per day: a single round trip, to
// a single node since all the keys share the client's slot.
func (r *Redis) History(ctx context.Context, clientID string, fromDay, toDay string) ([]DayStats, error) {
	days, err := historyDays(clientID, fromDay, toDay)
	if err != nil {
		return nil, err
	}
	base := r.clientBase(clientID)
	cmds := make([]*redis.MapStringStringCmd, len(days))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HGetAll(ctx, base+"d:"+d)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("history", err)
	}
	out := make([]DayStats, len(days))
	for i, d := range days {
		out[i] = parseDayHash(d, cmds[i].Val())
	}
	return out, nil
}
