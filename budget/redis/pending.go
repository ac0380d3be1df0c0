package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget"
)

// contextKey is where a remembered context size lives: in the client's slot, so the
// settle script can write it.
func (r *Store) contextKey(clientID, key string) string {
	return r.clientBase(clientID) + "ctx:" + key
}

// charged hands the pending charges a script's sweep made (see charge_pending in
// lua/common.lua) to the index batcher, as if they had been settled.
func (r *Store) charged(clientID string, list []any, now time.Time) {
	for _, e := range list {
		f, ok := e.([]any)
		if !ok || len(f) != chargedLen {
			r.log.Warn("budget/redis: malformed pending charge in a script reply", "entry", fmt.Sprint(e))
			continue
		}
		rep := reply{v: f}
		id, _ := f[chargedID].(string)
		model, _ := f[chargedModel].(string)
		day, _ := f[chargedDay].(string)
		month, _ := f[chargedMonth].(string)
		s := budget.SettleRequest{ID: id, ClientID: clientID, ActualNano: rep.int(chargedAmount), Estimated: true, Now: now,
			Periods: budget.Periods{Day: budget.Period{Key: day}, Month: budget.Period{Key: month}}}
		dayTotal, monthTotal := rep.int(chargedDayTotal), rep.int(chargedMonthTotal)
		if rep.err != nil {
			r.log.Warn("budget/redis: malformed pending charge in a script reply", "err", rep.err)
			continue
		}
		keep := r.retention.Milliseconds()
		r.idx.settled(s, model, dayTotal, monthTotal, keep+2*24*time.Hour.Milliseconds(), keep+32*24*time.Hour.Milliseconds())
	}
}

// Extend implements budget.Ledger: one script per client, pipelined (go-redis sends each
// Cluster node its share in one round trip).
func (r *Store) Extend(ctx context.Context, leases []budget.Lease) error {
	if len(leases) == 0 {
		return nil
	}
	if err := budget.ValidateLeases(leases); err != nil {
		return err
	}
	byClient := make(map[string]argv)
	var order []string
	for _, l := range leases {
		if _, ok := byClient[l.ClientID]; !ok {
			order = append(order, l.ClientID)
		}
		pair := make(argv, extendArgPair)
		pair.set(extendArgID, l.ID)
		pair.set(extendArgExpiry, itoa(l.Expiry.UnixMilli()))
		byClient[l.ClientID] = append(byClient[l.ClientID], pair...)
	}
	_, err := r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, id := range order {
			base := r.clientBase(id)
			r.scripts.extend.Run(ctx, p, []string{base + "res", base + "resx"}, byClient[id]...)
		}
		return nil
	})
	if err != nil {
		return unavailable("extend", err)
	}
	return nil
}

// Hold implements budget.Ledger in one round trip (lua/hold.lua).
func (r *Store) Hold(ctx context.Context, h budget.HoldRequest) (bool, error) {
	if err := h.Validate(); err != nil {
		return false, err
	}
	k := r.keys(h.ClientID, h.Periods)
	now := h.Now.UnixMilli()
	dayKeep := now + r.keepFor(h.Periods.Day, h.Now)
	monthKeep := now + r.keepFor(h.Periods.Month, h.Now)
	ttl := h.Expiry.Sub(h.Now) + time.Hour
	args := newArgv(holdArgKeyTTL, 0)
	args.set(holdArgOldID, h.ID)
	args.set(holdArgNewID, h.NewID)
	args.set(holdArgNow, itoa(now))
	args.set(holdArgEstimate, itoa(h.EstimateNano))
	args.set(holdArgDay, h.Periods.Day.Key)
	args.set(holdArgMonth, h.Periods.Month.Key)
	args.set(holdArgExpiry, itoa(h.Expiry.UnixMilli()))
	args.set(holdArgModel, budget.ModelName(h.Model))
	args.set(holdArgDayKeep, itoa(dayKeep))
	args.set(holdArgMonthKeep, itoa(monthKeep))
	args.set(holdArgKeyTTL, ms(ttl))
	v, err := r.scripts.hold.Run(ctx, r.c, []string{k.res, k.resx, k.rsv, k.done}, args...).Slice()
	if err != nil {
		return false, unavailable("hold", err)
	}
	rep := reply{v: v}
	status := rep.int(holdReplyStatus)
	r.charged(h.ClientID, rep.list(holdReplyCharged), h.Now)
	if rep.err != nil {
		return false, unavailable("hold", rep.err)
	}
	return status == holdStatusHeld, nil
}

// Remember implements budget.Ledger with one pipelined SET per value (one slot).
func (r *Store) Remember(ctx context.Context, clientID string, rs []budget.Remember, _ time.Time) error {
	if err := budget.ValidateRemember(clientID, rs); err != nil {
		return err
	}
	_, err := r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, rm := range rs {
			p.Set(ctx, r.contextKey(clientID, rm.Key), rm.Tokens, rm.TTL)
		}
		return nil
	})
	if err != nil {
		return unavailable("remember", err)
	}
	return nil
}

// Contexts implements budget.Ledger with one MGET (all keys share the client's slot).
func (r *Store) Contexts(ctx context.Context, clientID string, keys []string, _ time.Time) ([]int64, error) {
	if err := budget.ValidateClient("contexts", clientID); err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.contextKey(clientID, k)
	}
	vals, err := r.c.MGet(ctx, full...).Result()
	if err != nil {
		return nil, unavailable("contexts", err)
	}
	for i, v := range vals {
		rep := reply{v: []any{v}}
		if n := rep.int(0); rep.err == nil && n > 0 {
			out[i] = n
		}
	}
	return out, nil
}
