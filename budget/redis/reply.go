package redis

import (
	"fmt"
	"strconv"
)

// reply decodes a script's array reply; the first decoding problem is kept in err so a
// call site checks once. Amounts come back as strings (exact int64), statuses as integers.
type reply struct {
	v   []any
	err error
}

func (r *reply) at(i int) any {
	if i >= len(r.v) {
		r.fail(fmt.Errorf("reply has %d elements, want more than %d", len(r.v), i))
		return nil
	}
	return r.v[i]
}

func (r *reply) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reply) int(i int) int64 {
	switch x := r.at(i).(type) {
	case int64:
		return x
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			r.fail(fmt.Errorf("reply[%d]: %w", i, err))
		}
		return n
	case nil:
		return 0
	default:
		r.fail(fmt.Errorf("reply[%d]: unexpected %T", i, x))
		return 0
	}
}

func (r *reply) list(i int) []any {
	switch x := r.at(i).(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		r.fail(fmt.Errorf("reply[%d]: unexpected %T, want an array", i, x))
		return nil
	}
}

func (r *reply) ints(i int) []int64 {
	sub := reply{v: r.list(i)}
	out := make([]int64, 0, len(sub.v))
	for j := range sub.v {
		out = append(out, sub.int(j))
	}
	r.fail(sub.err)
	return out
}

func (r *reply) strings(i int) []string {
	l := r.list(i)
	out := make([]string, 0, len(l))
	for j, x := range l {
		s, ok := x.(string)
		if !ok {
			r.fail(fmt.Errorf("reply[%d][%d]: unexpected %T", i, j, x))
			continue
		}
		out = append(out, s)
	}
	return out
}
