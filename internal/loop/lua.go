package loop

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// WindowLua defines loop_observe(keys, args) and its helpers (all local) for
// Redis's Lua 5.1: prepend it to a script, e.g. the ledger's reserve script,
// so that loop detection runs in the same round trip as admission. The file's
// header documents keys, args and the reply; LuaArgs and ParseLuaReply are the
// Go side of that contract.
//
//go:embed window.lua
var WindowLua string

// windowCall makes WindowLua a standalone script.
const windowCall = "\nreturn loop_observe({KEYS[1]}, ARGV)\n"

// WindowScript returns WindowLua as a standalone script: KEYS[1] the window
// key, ARGV the eight values of LuaArgs (tests, tools).
func WindowScript() string { return WindowLua + windowCall }

// LuaArgs returns loop_observe's args for request s seen at now under c, in
// order, as strings ready for EVAL's ARGV.
func LuaArgs(now time.Time, s Signature, c Config) []string {
	return []string{
		strconv.FormatInt(now.UnixMilli(), 10),
		string(appendHex(nil, s.Exact, 16)),
		string(appendHex(nil, s.Sim, 16)),
		strconv.Itoa(int(s.Size)),
		strconv.FormatInt(c.Window.Milliseconds(), 10),
		strconv.Itoa(c.MaxRepeats),
		strconv.FormatFloat(c.Similarity, 'g', -1, 64),
		strconv.FormatInt(c.Cooldown.Milliseconds(), 10),
	}
}

// ErrLuaReply is wrapped by ParseLuaReply's errors.
var ErrLuaReply = errors.New("loop: malformed loop_observe reply")

// ParseLuaReply decodes loop_observe's reply, as go-redis returns it (a
// []any of int64), into the Verdict Observe would have returned.
func ParseLuaReply(reply any) (Verdict, error) {
	arr, ok := reply.([]any)
	if !ok || len(arr) != 5 {
		return Verdict{}, fmt.Errorf("%w: want 5 integers, got %T %v", ErrLuaReply, reply, reply)
	}
	var n [5]int64
	for i, x := range arr {
		if n[i], ok = x.(int64); !ok {
			return Verdict{}, fmt.Errorf("%w: element %d is %T", ErrLuaReply, i, x)
		}
	}
	if n[0] > 1 || n[1] > 1 || n[0] < 0 || n[1] < 0 || n[3] < 0 || n[3] > int64(codeCycle) || n[2] < 0 || n[4] < 0 {
		return Verdict{}, fmt.Errorf("%w: %v", ErrLuaReply, n)
	}
	v := Verdict{Loop: n[0] == 1, Cooldown: n[1] == 1, Repeats: int(n[2]), Kind: kindNames[n[3]]}
	if n[4] > 0 {
		v.Until = time.UnixMilli(n[4])
	}
	return v, nil
}
