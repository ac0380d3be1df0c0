package budget

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// contextKey is where a remembered context size lives: in the client's slot, so the
// settle script can write it.
func (r *Redis) contextKey(clientID, key string) string {
	return r.clientBase(clientID) + "ctx:" + key
}

// charged hands the pending charges a script's sweep made (see charge_pending in
// lua/common.lua) to the index batcher, as if they had been settled.
func (r *Redis) charged(clientID string, list []any, now time.Time) {
	for _, e := range list {
		f, ok := e.([]any)
		if !ok || len(f) != 7 {
			r.log.Warn("budget: malformed pending charge in a script reply", "entry", fmt.Sprint(e))
			continue
		}
		rep := reply{v: f}
		id, _ := f[0].(string)
		model, _ := f[2].(string)
		day, _ := f[3].(string)
		month, _ := f[4].(string)
		s := SettleRequest{ID: id, ClientID: clientID, ActualNano: rep.int(1), Estimated: true, Now: now,
			Periods: Periods{Day: Period{Key: day}, Month: Period{Key: month}}}
		dayTotal, monthTotal := rep.int(5), rep.int(6)
		if rep.err != nil {
			r.log.Warn("budget: malformed pending charge in a script reply", "err", rep.err)
			continue
		}
		keep := r.retention.Milliseconds()
		r.idx.settled(s, model, dayTotal, monthTotal, keep+2*24*time.Hour.Milliseconds(), keep+32*24*time.Hour.Milliseconds())
	}
}

// Extend implements Ledger: one script per client, pipelined (go-redis sends each
// Cluster node its share in one round trip).
func (r *Redis) Extend(ctx context.Context, leases []Lease) error {
	if len(leases) == 0 {
		return nil
	}
	byClient := make(map[string][]any)
	var order []string
	for _, l := range leases {
		if err := validID(l.ID); err != nil {
			return fmt.Errorf("%w: extend: %w", ErrInvalid, err)
		}
		if err := ValidClientID(l.ClientID); err != nil {
			return fmt.Errorf("%w: extend: %w", ErrInvalid, err)
		}
		if _, ok := byClient[l.ClientID]; !ok {
			order = append(order, l.ClientID)
		}
		byClient[l.ClientID] = append(byClient[l.ClientID], l.ID, itoa(l.Expiry.UnixMilli()))
	}
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range order {
			base := r.clientBase(id)
			r.extend.Run(ctx, p, []string{base + "res", base + "resx"}, byClient[id]...)
		}
		return nil
	})
	if err != nil {
		return unavailable("extend", err)
	}
	return nil
}

// Hold implements Ledger in one round trip (lua/hold.lua).
func (r *Redis) Hold(ctx context.Context, h HoldRequest) (bool, error) {
	if err := h.validate(); err != nil {
		return false, err
	}
	k := r.keys(h.ClientID, h.Periods)
	now := h.Now.UnixMilli()
	dayKeep := now + r.keepFor(h.Periods.Day, h.Now)
	monthKeep := now + r.keepFor(h.Periods.Month, h.Now)
	ttl := h.Expiry.Sub(h.Now) + time.Hour
	v, err := r.hold.Run(ctx, r.c, []string{k.res, k.resx, k.rsv, k.done},
		h.ID, h.NewID, itoa(now), itoa(h.EstimateNano), h.Periods.Day.Key, h.Periods.Month.Key,
		itoa(h.Expiry.UnixMilli()), modelName(h.Model), itoa(dayKeep), itoa(monthKeep), itoa(ttl.Milliseconds())).Slice()
	if err != nil {
		return false, unavailable("hold", err)
	}
	rep := reply{v: v}
	status := rep.int(0)
	r.charged(h.ClientID, rep.list(1), h.Now)
	if rep.err != nil {
		return false, unavailable("hold", rep.err)
	}
	return status == 1, nil
}

// Remember implements Ledger with one pipelined SET per value (one slot).
func (r *Redis) Remember(ctx context.Context, clientID string, rs []Remember, _ time.Time) error {
	if err := ValidClientID(clientID); err != nil {
		return fmt.Errorf("%w: remember: %w", ErrInvalid, err)
	}
	if err := invalid("remember", validRemember(rs)); err != nil {
		return err
	}
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
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

// Contexts implements Ledger with one MGET (all keys share the client's slot).
func (r *Redis) Contexts(ctx context.Context, clientID string, keys []string, _ time.Time) ([]int64, error) {
	if err := ValidClientID(clientID); err != nil {
		return nil, fmt.Errorf("%w: contexts: %w", ErrInvalid, err)
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
