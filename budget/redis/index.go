package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget"
)

var _ budget.ClientIndex = (*Store)(nil)

// Index and aggregate keys are not client-tagged: each is written and read by its own
// command, so in a Cluster they spread over the nodes (pipelines are split per node).
func (r *Store) dayIndexKey(day string) string     { return r.prefix + ":idx:d:" + day }
func (r *Store) monthIndexKey(month string) string { return r.prefix + ":idx:m:" + month }
func (r *Store) seenKey(month string) string       { return r.prefix + ":idx:s:" + month }
func (r *Store) dayNameKey(day string) string      { return r.prefix + ":idx:dn:" + day }
func (r *Store) monthNameKey(month string) string  { return r.prefix + ":idx:mn:" + month }
func (r *Store) aggKey(day string) string          { return r.prefix + ":agg:d:" + day }

// msChunk bounds the members of one ZMSCORE in a Prefix listing.
const msChunk = 10_000

// ListClients implements budget.ClientIndex. Without Prefix a page is one script (lua/page.lua,
// O(log N + limit) at any depth) plus one pipeline for the other period's spend and the
// last-seen times. With Prefix the matching ids come from the period's name index
// (ZRANGEBYLEX) and their spend from one pipeline of ZMSCORE, sorted here: O(matching
// clients) per page, independent of the clients that do not match.
func (r *Store) ListClients(ctx context.Context, q budget.ClientQuery) (budget.ClientPage, error) {
	lq, err := q.Validate()
	if err != nil {
		return budget.ClientPage{}, err
	}
	sortKey, otherKey := r.dayIndexKey(lq.Periods.Day.Key), r.monthIndexKey(lq.Periods.Month.Key)
	nameKey := r.dayNameKey(lq.Periods.Day.Key)
	if lq.Sort == budget.SortMonth {
		sortKey, otherKey = otherKey, sortKey
		nameKey = r.monthNameKey(lq.Periods.Month.Key)
	}
	var rows []indexRow
	var total int64
	if lq.Prefix == "" {
		rows, total, err = r.pageRows(ctx, sortKey, lq)
	} else {
		rows, total, err = r.prefixRows(ctx, sortKey, nameKey, lq)
	}
	if err != nil {
		return budget.ClientPage{}, unavailable("list clients", err)
	}
	more := len(rows) > lq.Limit
	rows = rows[:min(len(rows), lq.Limit)]
	page := budget.ClientPage{Clients: make([]budget.ClientSummary, len(rows)), Total: total}
	if len(rows) > 0 {
		ids := make([]string, len(rows))
		for i, rw := range rows {
			ids[i] = rw.id
		}
		var other, seen *goredis.FloatSliceCmd
		_, err := r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			other = p.ZMScore(ctx, otherKey, ids...)
			seen = p.ZMScore(ctx, r.seenKey(lq.Periods.Month.Key), ids...)
			return nil
		})
		if err != nil {
			return budget.ClientPage{}, unavailable("list clients", err)
		}
		for i, rw := range rows {
			s := budget.ClientSummary{ClientID: rw.id, LastSeen: budget.UnixMilli(int64(seen.Val()[i]))}
			o := spentOf(other.Val()[i])
			if lq.Sort == budget.SortMonth {
				s.DaySpentNano, s.MonthSpentNano = o, rw.spent
			} else {
				s.DaySpentNano, s.MonthSpentNano = rw.spent, o
			}
			page.Clients[i] = s
		}
	}
	page.NextCursor = lq.Next(page.Clients, more)
	return page, nil
}

// indexRow is one client of a listing: the spend of the sorted period.
type indexRow struct {
	id    string
	spent int64
}

// spentOf turns an index score (-spent) back into nano-USD. Scores are doubles: exact up
// to 2^53 nano-USD (about $9M per client and period), rounded beyond.
func spentOf(score float64) int64 { return int64(-score) }

// pageRows runs lua/page.lua: Limit+1 rows after the cursor and the index size.
func (r *Store) pageRows(ctx context.Context, key string, lq budget.ListQuery) ([]indexRow, int64, error) {
	args := newArgv(pageArgRows, 0)
	args.set(pageArgCursorScore, "")
	args.set(pageArgCursorMember, "")
	if spent, client, ok := lq.Cursor(); ok {
		args.set(pageArgCursorScore, strconv.FormatInt(-spent, 10))
		args.set(pageArgCursorMember, client)
	}
	args.set(pageArgRows, strconv.Itoa(lq.Limit+1))
	v, err := r.scripts.page.Run(ctx, r.c, []string{key}, args...).Slice()
	if err != nil {
		return nil, 0, err
	}
	rep := reply{v: v}
	total := rep.int(pageReplyTotal)
	flat := rep.strings(pageReplyRows)
	if rep.err != nil {
		return nil, 0, rep.err
	}
	rows := make([]indexRow, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		f, err := strconv.ParseFloat(flat[i+1], 64)
		if err != nil {
			return nil, 0, fmt.Errorf("index score %q: %w", flat[i+1], err)
		}
		rows = append(rows, indexRow{id: flat[i], spent: spentOf(f)})
	}
	return rows, total, nil
}

// prefixRows reads the ids starting with lq.Prefix from the name index, their spend
// from the spend index, sorts them, and returns Limit+1 rows after the cursor and the
// number of matches. Client ids are UTF-8, which never holds the byte 0xff, so
// [prefix … (prefix+"\xff" is exactly the range of ids with that prefix.
func (r *Store) prefixRows(ctx context.Context, key, nameKey string, lq budget.ListQuery) ([]indexRow, int64, error) {
	ids, err := r.c.ZRangeByLex(ctx, nameKey, &goredis.ZRangeBy{Min: "[" + lq.Prefix, Max: "(" + lq.Prefix + "\xff"}).Result()
	if err != nil || len(ids) == 0 {
		return nil, 0, err
	}
	cmds := make([]*goredis.Cmd, 0, len(ids)/msChunk+1)
	_, err = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i := 0; i < len(ids); i += msChunk {
			chunk := ids[i:min(len(ids), i+msChunk)]
			args := make([]any, 0, 2+len(chunk))
			args = append(args, "ZMSCORE", key)
			for _, id := range chunk {
				args = append(args, id)
			}
			cmds = append(cmds, p.Do(ctx, args...))
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	rows := make([]indexRow, 0, len(ids))
	var total int64
	for ci, cmd := range cmds {
		scores, err := cmd.Slice()
		if err != nil {
			return nil, 0, err
		}
		for j, sc := range scores {
			var f float64
			switch v := sc.(type) {
			case nil: // in the name index only: a flush still being retried
				continue
			case float64: // RESP3
				f = v
			case string: // RESP2
				if f, err = strconv.ParseFloat(v, 64); err != nil {
					return nil, 0, fmt.Errorf("index score %q: %w", v, err)
				}
			default:
				return nil, 0, fmt.Errorf("index score: unexpected %T", sc)
			}
			total++
			id, spent := ids[ci*msChunk+j], spentOf(f)
			if lq.After(spent, id) {
				rows = append(rows, indexRow{id: id, spent: spent})
			}
		}
	}
	slices.SortFunc(rows, func(a, b indexRow) int {
		if budget.Before(a.spent, a.id, b.spent, b.id) {
			return -1
		}
		return 1
	})
	return rows[:min(len(rows), lq.Limit+1)], total, nil
}

// GlobalHistory implements budget.ClientIndex with one pipelined HGETALL per day.
func (r *Store) GlobalHistory(ctx context.Context, fromDay, toDay string) ([]budget.DayStats, error) {
	days, err := budget.GlobalDays(fromDay, toDay)
	if err != nil {
		return nil, err
	}
	cmds := make([]*goredis.MapStringStringCmd, len(days))
	_, err = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HGetAll(ctx, r.aggKey(d))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("global history", err)
	}
	out := make([]budget.DayStats, len(days))
	for i, d := range days {
		out[i] = parseDayHash(d, cmds[i].Val())
	}
	return out, nil
}
