package budget

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

var _ ClientIndex = (*Redis)(nil)

// Index and aggregate keys are not client-tagged: each is written and read by its own
// command, so in a Cluster they spread over the nodes (pipelines are split per node).
func (r *Redis) dayIndexKey(day string) string     { return r.prefix + ":idx:d:" + day }
func (r *Redis) monthIndexKey(month string) string { return r.prefix + ":idx:m:" + month }
func (r *Redis) seenKey(month string) string       { return r.prefix + ":idx:s:" + month }
func (r *Redis) dayNameKey(day string) string      { return r.prefix + ":idx:dn:" + day }
func (r *Redis) monthNameKey(month string) string  { return r.prefix + ":idx:mn:" + month }
func (r *Redis) aggKey(day string) string          { return r.prefix + ":agg:d:" + day }

// msChunk bounds the members of one ZMSCORE in a Prefix listing.
const msChunk = 10_000

// ListClients implements ClientIndex. Without Prefix a page is one script (lua/page.lua,
// O(log N + limit) at any depth) plus one pipeline for the other period's spend and the
// last-seen times. With Prefix the matching ids come from the period's name index
// (ZRANGEBYLEX) and their spend from one pipeline of ZMSCORE, sorted here: O(matching
// clients) per page, independent of the clients that do not match.
func (r *Redis) ListClients(ctx context.Context, q ClientQuery) (ClientPage, error) {
	lq, err := q.validate()
	if err != nil {
		return ClientPage{}, err
	}
	sortKey, otherKey := r.dayIndexKey(lq.Periods.Day.Key), r.monthIndexKey(lq.Periods.Month.Key)
	nameKey := r.dayNameKey(lq.Periods.Day.Key)
	if lq.Sort == SortMonth {
		sortKey, otherKey = otherKey, sortKey
		nameKey = r.monthNameKey(lq.Periods.Month.Key)
	}
	var rows []row
	var total int64
	if lq.Prefix == "" {
		rows, total, err = r.pageRows(ctx, sortKey, lq)
	} else {
		rows, total, err = r.prefixRows(ctx, sortKey, nameKey, lq)
	}
	if err != nil {
		return ClientPage{}, unavailable("list clients", err)
	}
	more := len(rows) > lq.Limit
	rows = rows[:min(len(rows), lq.Limit)]
	page := ClientPage{Clients: make([]ClientSummary, len(rows)), Total: total}
	if len(rows) > 0 {
		ids := make([]string, len(rows))
		for i, rw := range rows {
			ids[i] = rw.id
		}
		var other, seen *redis.FloatSliceCmd
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			other = p.ZMScore(ctx, otherKey, ids...)
			seen = p.ZMScore(ctx, r.seenKey(lq.Periods.Month.Key), ids...)
			return nil
		})
		if err != nil {
			return ClientPage{}, unavailable("list clients", err)
		}
		for i, rw := range rows {
			s := ClientSummary{ClientID: rw.id, LastSeen: unixMilli(int64(seen.Val()[i]))}
			o := spentOf(other.Val()[i])
			if lq.Sort == SortMonth {
				s.DaySpentNano, s.MonthSpentNano = o, rw.key
			} else {
				s.DaySpentNano, s.MonthSpentNano = rw.key, o
			}
			page.Clients[i] = s
		}
	}
	page.NextCursor = lq.next(page.Clients, more)
	return page, nil
}

// spentOf turns an index score (-spent) back into nano-USD. Scores are doubles: exact up
// to 2^53 nano-USD (about $9M per client and period), rounded beyond.
func spentOf(score float64) int64 { return int64(-score) }

// pageRows runs lua/page.lua: Limit+1 rows after the cursor and the index size.
func (r *Redis) pageRows(ctx context.Context, key string, lq listQuery) ([]row, int64, error) {
	cs, cm := "", ""
	if lq.cursor.set {
		cs, cm = strconv.FormatInt(-lq.cursor.spent, 10), lq.cursor.client
	}
	v, err := r.page.Run(ctx, r.c, []string{key}, cs, cm, strconv.Itoa(lq.Limit+1)).Slice()
	if err != nil {
		return nil, 0, err
	}
	rep := reply{v: v}
	total := rep.int(0)
	flat := rep.strings(1)
	if rep.err != nil {
		return nil, 0, rep.err
	}
	rows := make([]row, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		f, err := strconv.ParseFloat(flat[i+1], 64)
		if err != nil {
			return nil, 0, fmt.Errorf("index score %q: %w", flat[i+1], err)
		}
		rows = append(rows, row{id: flat[i], key: spentOf(f)})
	}
	return rows, total, nil
}

// prefixRows reads the ids starting with lq.Prefix from the name index, their spend
// from the spend index, sorts them, and returns Limit+1 rows after the cursor and the
// number of matches. Client ids are UTF-8, which never holds the byte 0xff, so
// [prefix … (prefix+"\xff" is exactly the range of ids with that prefix.
func (r *Redis) prefixRows(ctx context.Context, key, nameKey string, lq listQuery) ([]row, int64, error) {
	ids, err := r.c.ZRangeByLex(ctx, nameKey, &redis.ZRangeBy{Min: "[" + lq.Prefix, Max: "(" + lq.Prefix + "\xff"}).Result()
	if err != nil || len(ids) == 0 {
		return nil, 0, err
	}
	cmds := make([]*redis.Cmd, 0, len(ids)/msChunk+1)
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
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
	rows := make([]row, 0, len(ids))
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
			if lq.cursor.after(spent, id) {
				rows = append(rows, row{id: id, key: spent})
			}
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	return rows[:min(len(rows), lq.Limit+1)], total, nil
}

// GlobalHistory implements ClientIndex with one pipelined HGETALL per day.
func (r *Redis) GlobalHistory(ctx context.Context, fromDay, toDay string) ([]DayStats, error) {
	days, err := globalDays(fromDay, toDay)
	if err != nil {
		return nil, err
	}
	cmds := make([]*redis.MapStringStringCmd, len(days))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HGetAll(ctx, r.aggKey(d))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("global history", err)
	}
	out := make([]DayStats, len(days))
	for i, d := range days {
		out[i] = parseDayHash(d, cmds[i].Val())
	}
	return out, nil
}
