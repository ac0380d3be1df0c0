package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// Reserve implements budget.Ledger in one round trip (lua/reserve.lua). With req.Loop the
// same script runs the loop window first (loop.WindowLua) and records a new loop's event
// in the client's list; the batcher copies it to the all-clients listing.
func (r *Store) Reserve(ctx context.Context, req budget.ReserveRequest) (budget.Admission, error) {
	ttl, err := req.Validate()
	if err != nil {
		return budget.Admission{}, err
	}
	k := r.keys(req.ClientID, req.Periods)
	now := req.Now.UnixMilli()
	keys := []string{k.res, k.resx, k.rsv, k.done, k.day, k.month}
	args := newArgv(reserveArgStrict, reserveArgLoopTTL-reserveArgStrict)
	args.set(reserveArgID, req.ID)
	args.set(reserveArgNow, itoa(now))
	args.set(reserveArgEstimate, itoa(req.EstimateNano))
	args.set(reserveArgDay, req.Periods.Day.Key)
	args.set(reserveArgMonth, req.Periods.Month.Key)
	args.set(reserveArgDayLimit, limitArg(req.Rule.Daily))
	args.set(reserveArgMonthLimit, limitArg(req.Rule.Monthly))
	args.set(reserveArgBlocks, boolArg(req.Rule.Blocks()))
	args.set(reserveArgExpiry, itoa(now+ttl.Milliseconds()))
	args.set(reserveArgKeyTTL, ms(2*ttl))
	args.set(reserveArgStrict, boolArg(req.Rule.Strict()))
	if lc := req.Loop; lc != nil {
		base := r.clientBase(req.ClientID)
		keys = append(keys, base+"loop", base+"loopev")
		args = args[:reserveArgLoopTTL]
		for i, a := range loop.LuaArgs(req.Now, lc.Sig, lc.Config) {
			args.set(reserveArgLoop+i, a)
		}
		args.set(reserveArgLoopBlocks, boolArg(lc.Block))
		args.set(reserveArgLoopTail, budget.LoopEntryTail(lc))
		args.set(reserveArgLoopKeep, strconv.Itoa(budget.MaxClientLoopEvents))
		args.set(reserveArgLoopTTL, ms(budget.LoopEventTTL))
	}
	v, err := r.pipe.run(ctx, r.scripts.reserve, keys, args)
	if err != nil {
		return budget.Admission{}, unavailable("reserve", err)
	}
	rep := reply{v: v}
	status := rep.int(reserveReplyStatus)
	day := budget.PeriodSpend{SpentNano: rep.int(reserveReplyDaySpent), ReservedNano: rep.int(reserveReplyDayReserved), Limit: req.Rule.Daily}
	month := budget.PeriodSpend{SpentNano: rep.int(reserveReplyMonthSpent), ReservedNano: rep.int(reserveReplyMonthReserved), Limit: req.Rule.Monthly}
	if rep.err != nil {
		return budget.Admission{}, unavailable("reserve", rep.err)
	}
	if len(v) != reserveReplyLen {
		return budget.Admission{}, unavailable("reserve", fmt.Errorf("reply has %d elements, want %d", len(v), reserveReplyLen))
	}
	r.charged(req.ClientID, rep.list(reserveReplyCharged), req.Now)
	var lv loop.Verdict
	if req.Loop != nil && (status == reserveStatusRefused || status == reserveStatusReserved || status == reserveStatusLoop) {
		if lv, err = loop.ParseLuaReply(v[reserveReplyLoop:reserveReplyCharged]); err != nil {
			return budget.Admission{}, unavailable("reserve", err)
		}
		if lv.Loop && !lv.Cooldown {
			// The script recorded the event in the client's list; the batcher adds the
			// same entry to the all-clients listing, so Reserve stays one round trip.
			r.idx.loopEvent(now, budget.LoopMember(req.ClientID, budget.LoopEntryHead(now, lv)+budget.LoopEntryTail(req.Loop)))
		}
	}
	var a budget.Admission
	switch status {
	case reserveStatusRefused:
		a = budget.NewAdmission(req.Periods, day, month, false, false, req.EstimateNano, req.Rule.Strict())
	case reserveStatusReserved:
		a = budget.NewAdmission(req.Periods, day, month, true, true, req.EstimateNano, req.Rule.Strict())
	case reserveStatusDuplicate:
		a = budget.NewAdmission(req.Periods, day, month, true, false, req.EstimateNano, req.Rule.Strict())
		a.Duplicate = true
	case reserveStatusSettled:
		return budget.Admission{}, fmt.Errorf("%w: reserve: id %q was already settled", budget.ErrInvalid, req.ID)
	case reserveStatusLoop:
		a = budget.Admission{Day: day, Month: month}
	default:
		return budget.Admission{}, unavailable("reserve", fmt.Errorf("unexpected status %d", status))
	}
	a.Loop = lv
	return a, nil
}

// Settle implements budget.Ledger in one round trip (lua/settle.lua).
func (r *Store) Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error) {
	if err := s.Validate(); err != nil {
		return budget.SettleResult{}, err
	}
	k := r.keys(s.ClientID, s.Periods)
	marks := budget.Marks(s.Rule)
	model := budget.ModelName(s.Model)
	dayKeep, monthKeep := r.keepFor(s.Periods.Day, s.Now), r.keepFor(s.Periods.Month, s.Now)
	args := newArgv(settleArgMarks, 3*len(marks)+2*len(s.Remember))
	args.set(settleArgID, s.ID)
	args.set(settleArgNow, itoa(s.Now.UnixMilli()))
	args.set(settleArgActual, itoa(s.ActualNano))
	args.set(settleArgFailed, boolArg(s.Failed))
	args.set(settleArgEstimated, boolArg(s.Estimated))
	args.set(settleArgModel, model)
	args.set(settleArgPrompt, itoa(s.Tokens.Prompt))
	args.set(settleArgCached, itoa(s.Tokens.Cached))
	args.set(settleArgCompletion, itoa(s.Tokens.Completion))
	args.set(settleArgReasoning, itoa(s.Tokens.Reasoning))
	args.set(settleArgDay, s.Periods.Day.Key)
	args.set(settleArgMonth, s.Periods.Month.Key)
	args.set(settleArgDayTTL, itoa(dayKeep))
	args.set(settleArgMonthTTL, itoa(monthKeep))
	args.set(settleArgSettledTTL, ms(budget.SettledTTL))
	args.set(settleArgOnlyIfHeld, boolArg(s.OnlyIfHeld))
	args.set(settleArgMarks, strconv.Itoa(len(marks)))
	for _, m := range marks {
		kind := "d"
		if m.Kind == budget.Monthly {
			kind = "m"
		}
		args = append(args, kind, m.Field(), itoa(m.Amount))
	}
	keys := []string{k.res, k.resx, k.rsv, k.done, k.day, k.month}
	for _, rm := range s.Remember {
		keys = append(keys, r.contextKey(s.ClientID, rm.Key))
		args = append(args, itoa(rm.Tokens), ms(rm.TTL))
	}
	v, err := r.pipe.run(ctx, r.scripts.settle, keys, args)
	if err != nil {
		return budget.SettleResult{}, unavailable("settle", err)
	}
	rep := reply{v: v}
	status := rep.int(settleReplyStatus)
	r.charged(s.ClientID, rep.list(settleReplyCharged), s.Now)
	out := budget.SettleResult{
		Duplicate: status == settleStatusDuplicate,
		NotHeld:   status == settleStatusNotHeld,
		Day:       budget.PeriodSpend{SpentNano: rep.int(settleReplyDaySpent), ReservedNano: rep.int(settleReplyDayReserved), Limit: s.Rule.Daily},
		Month:     budget.PeriodSpend{SpentNano: rep.int(settleReplyMonthSpent), ReservedNano: rep.int(settleReplyMonthReserved), Limit: s.Rule.Monthly},
	}
	for _, i := range rep.ints(settleReplyFired) {
		if i < 1 || int(i) > len(marks) {
			rep.err = fmt.Errorf("threshold index %d out of range", i)
			break
		}
		m := marks[i-1]
		spent := out.Day.SpentNano
		if m.Kind == budget.Monthly {
			spent = out.Month.SpentNano
		}
		out.Crossings = append(out.Crossings, budget.Crossing{Kind: m.Kind, Threshold: m.Fraction, SpentNano: spent, LimitNano: m.Limit,
			Period: s.Periods.Of(m.Kind)})
	}
	if rep.err != nil {
		return budget.SettleResult{}, unavailable("settle", rep.err)
	}
	if status == settleStatusSettled {
		// The script's totals are authoritative; the batcher writes them to the index
		// later, so this request pays no extra round trip.
		r.idx.settled(s, model, out.Day.SpentNano, out.Month.SpentNano, dayKeep, monthKeep)
	}
	return out, nil
}

// Spend implements budget.Store in one round trip (lua/spend.lua).
func (r *Store) Spend(ctx context.Context, clientID string, rule rules.Rule, p budget.Periods, now time.Time) (budget.ClientSpend, error) {
	if err := budget.ValidateSpend(clientID, rule, p, now); err != nil {
		return budget.ClientSpend{}, err
	}
	k := r.keys(clientID, p)
	args := newArgv(spendArgMonth, 0)
	args.set(spendArgNow, itoa(now.UnixMilli()))
	args.set(spendArgDay, p.Day.Key)
	args.set(spendArgMonth, p.Month.Key)
	v, err := r.scripts.spend.Run(ctx, r.c, []string{k.res, k.resx, k.rsv, k.day, k.month, k.done}, args...).Slice()
	if err != nil {
		return budget.ClientSpend{}, unavailable("spend", err)
	}
	rep := reply{v: v}
	flat := rep.strings(spendReplyDayHash)
	r.charged(clientID, rep.list(spendReplyCharged), now)
	out := budget.ClientSpend{
		ClientID: clientID,
		Day:      budget.PeriodSpend{ReservedNano: rep.int(spendReplyDayReserved), Limit: rule.Daily},
		Month:    budget.PeriodSpend{SpentNano: rep.int(spendReplyMonthSpent), ReservedNano: rep.int(spendReplyMonthReserved), Limit: rule.Monthly},
	}
	if rep.err != nil {
		return budget.ClientSpend{}, unavailable("spend", rep.err)
	}
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		h[flat[i]] = flat[i+1]
	}
	out.Today = parseDayHash(p.Day.Key, h)
	out.Day.SpentNano = out.Today.CostNano
	return out, nil
}

// History implements budget.Store with one pipelined HGETALL per day: a single round
// trip, to a single node since all the keys share the client's slot.
func (r *Store) History(ctx context.Context, clientID string, fromDay, toDay string) ([]budget.DayStats, error) {
	days, err := budget.HistoryDays(clientID, fromDay, toDay)
	if err != nil {
		return nil, err
	}
	base := r.clientBase(clientID)
	cmds := make([]*goredis.MapStringStringCmd, len(days))
	_, err = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HGetAll(ctx, base+"d:"+d)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("history", err)
	}
	out := make([]budget.DayStats, len(days))
	for i, d := range days {
		out[i] = parseDayHash(d, cmds[i].Val())
	}
	return out, nil
}
