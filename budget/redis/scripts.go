package redis

import (
	_ "embed"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/internal/loop"
)

// The Lua scripts, one per operation (lua/*.lua). Each script names its KEYS, its ARGV
// slots and its status codes at the top; the constants below are the same names on the Go
// side (ARGV slots are 1-based, as Lua counts; reply positions are Go's 0-based indexes).
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

// scripts are the loaded scripts of a Store.
type scripts struct {
	reserve, settle, spend, extend, hold, rulePut, ruleDel, page *goredis.Script
}

func newScripts() scripts {
	return scripts{
		reserve: goredis.NewScript(luaCommon + loop.WindowLua + luaReserve),
		settle:  goredis.NewScript(luaCommon + luaSettle),
		spend:   goredis.NewScript(luaCommon + luaSpend),
		extend:  goredis.NewScript(luaCommon + luaExtend),
		hold:    goredis.NewScript(luaCommon + luaHold),
		rulePut: goredis.NewScript(luaRules + luaRulePut),
		ruleDel: goredis.NewScript(luaRules + luaRuleDel),
		page:    goredis.NewScript(luaPage),
	}
}

func (s scripts) all() []*goredis.Script {
	return []*goredis.Script{s.reserve, s.settle, s.spend, s.extend, s.hold, s.rulePut, s.ruleDel, s.page}
}

// lua/reserve.lua: KEYS 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash; with loop
// detection also 7 the loop window and 8 the loop events list.
const (
	reserveArgID = iota + 1
	reserveArgNow
	reserveArgEstimate
	reserveArgDay
	reserveArgMonth
	reserveArgDayLimit
	reserveArgMonthLimit
	reserveArgBlocks
	reserveArgExpiry
	reserveArgKeyTTL
	reserveArgStrict
	// reserveArgLoop is the first of loop.LuaArgs' loopArgCount values; it and the slots
	// after them only exist with loop detection.
	reserveArgLoop
)

const (
	reserveArgLoopBlocks = reserveArgLoop + loopArgCount + iota
	reserveArgLoopTail
	reserveArgLoopKeep
	reserveArgLoopTTL
)

// loopArgCount is how many values loop.LuaArgs returns (loop_args in window.lua).
const loopArgCount = 8

// Statuses returned by lua/reserve.lua (S_* there).
const (
	reserveStatusRefused   = 0 // refused by the budget
	reserveStatusReserved  = 1
	reserveStatusDuplicate = 2 // already reserved under this id
	reserveStatusSettled   = 3 // already settled under this id
	reserveStatusLoop      = 4 // refused by loop detection; nothing reserved
)

// Positions in lua/reserve.lua's reply: the status, the spend before the reservation,
// loop_observe's verdict (reserveReplyLoop up to reserveReplyCharged) and the pending
// charges the sweep made.
const (
	reserveReplyStatus = iota
	reserveReplyDaySpent
	reserveReplyDayReserved
	reserveReplyMonthSpent
	reserveReplyMonthReserved
	reserveReplyLoop    // loop_observe's five values: loop, cooldown, repeats, kind, until
	reserveReplyCharged = reserveReplyLoop + 5
	reserveReplyLen     = reserveReplyCharged + 1
)

// lua/settle.lua: KEYS 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash, then one
// key per remembered context. After settleArgMarks come that many (kind, field, amount)
// triples, then one (tokens, ttl ms) pair per remembered context.
const (
	settleArgID = iota + 1
	settleArgNow
	settleArgActual
	settleArgFailed
	settleArgEstimated
	settleArgModel
	settleArgPrompt
	settleArgCached
	settleArgCompletion
	settleArgReasoning
	settleArgDay
	settleArgMonth
	settleArgDayTTL
	settleArgMonthTTL
	settleArgSettledTTL
	settleArgOnlyIfHeld
	settleArgMarks
)

// Statuses returned by lua/settle.lua (S_* there).
const (
	settleStatusDuplicate = 0 // already settled; nothing changed
	settleStatusSettled   = 1
	settleStatusNotHeld   = 2 // OnlyIfHeld and nothing held under the id; nothing changed
)

// Positions in lua/settle.lua's reply.
const (
	settleReplyStatus = iota
	settleReplyDaySpent
	settleReplyDayReserved
	settleReplyMonthSpent
	settleReplyMonthReserved
	settleReplyFired
	settleReplyCharged
)

// lua/spend.lua: KEYS 1 res, 2 resx, 3 rsv, 4 day hash, 5 month hash, 6 done.
const (
	spendArgNow = iota + 1
	spendArgDay
	spendArgMonth
)

// Positions in lua/spend.lua's reply.
const (
	spendReplyDayHash = iota
	spendReplyMonthSpent
	spendReplyDayReserved
	spendReplyMonthReserved
	spendReplyCharged
)

// lua/hold.lua: KEYS 1 res, 2 resx, 3 rsv, 4 done.
const (
	holdArgOldID = iota + 1
	holdArgNewID
	holdArgNow
	holdArgEstimate
	holdArgDay
	holdArgMonth
	holdArgExpiry
	holdArgModel
	holdArgDayKeep
	holdArgMonthKeep
	holdArgKeyTTL
)

// Statuses returned by lua/hold.lua (S_* there), at holdReplyStatus; the pending charges
// of the sweep are at holdReplyCharged.
const (
	holdStatusNotHeld = 0 // the new id was already held or settled
	holdStatusHeld    = 1
	holdReplyStatus   = 0
	holdReplyCharged  = 1
)

// Positions in an entry of the pending charges a script's sweep made (charge_pending in
// lua/common.lua appends {id, amount, model, day key, month key, day total, month total}).
const (
	chargedID = iota
	chargedAmount
	chargedModel
	chargedDay
	chargedMonth
	chargedDayTotal
	chargedMonthTotal
	chargedLen
)

// lua/extend.lua: KEYS 1 res, 2 resx; ARGV is pairs of (id, new expiry ms), at these
// slots within each pair (P_* there).
const (
	extendArgID     = 1
	extendArgExpiry = 2
	extendArgPair   = 2
)

// lua/rule_put.lua and lua/rule_del.lua: KEYS 1 the rules hash, 2 the version.
const (
	rulePutArgKey = iota + 1
	rulePutArgValue
	rulePutArgMax
	rulePutArgSeed
)

const (
	ruleDelArgKey = iota + 1
	ruleDelArgSeed
)

// Replies of lua/rule_put.lua and lua/rule_del.lua (S_* there).
const (
	rulePutReplaced = 0
	rulePutCreated  = 1
	rulePutFull     = -1
	ruleDelMissing  = 0
	ruleDelDeleted  = 1
)

// lua/page.lua: KEYS 1 the index zset.
const (
	pageArgCursorScore = iota + 1
	pageArgCursorMember
	pageArgRows
)

// Positions in lua/page.lua's reply.
const (
	pageReplyTotal = iota
	pageReplyRows
)

// argv is a script's ARGV, set by the named slots above.
type argv []any

// newArgv returns an ARGV of n slots and room for extra more values.
func newArgv(n, extra int) argv { return make(argv, n, n+extra) }

// set puts v in the 1-based slot, as Lua numbers ARGV.
func (a argv) set(slot int, v any) { a[slot-1] = v }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ms(d time.Duration) string { return itoa(d.Milliseconds()) }

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
