package budget

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/loop"
)

func TestTmpWindowCost(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	defer client.Close()
	ctx := context.Background()
	sc := redis.NewScript(loop.WindowScript())
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 8, 32} {
		for i := range 100 * n {
			s := loop.Signature{Exact: mix(uint64(i)), Sim: mix(^uint64(i)), Size: 60}
			args := []any{}
			for _, a := range loop.LuaArgs(now, s, loop.DefaultConfig()) {
				args = append(args, a)
			}
			sc.Run(ctx, client, []string{fmt.Sprintf("w%d:%d", n, i%100)}, args...)
		}
		client.ConfigResetStat(ctx)
		for i := range 3000 {
			s := loop.Signature{Exact: mix(uint64(i + 1e6)), Sim: mix(^uint64(i + 1e6)), Size: 60}
			args := []any{}
			for _, a := range loop.LuaArgs(now, s, loop.DefaultConfig()) {
				args = append(args, a)
			}
			key := fmt.Sprintf("w%d:%d", n, i%100)
			if n == 0 {
				key = fmt.Sprintf("empty:%d", i)
			}
			sc.Run(ctx, client, []string{key}, args...)
		}
		s := client.Info(ctx, "commandstats").Val()
		t.Logf("entries=%d\n%s", n, s)
	}
}
