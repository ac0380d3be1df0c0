package redis

import (
	"context"
	"errors"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clusterStateEvery is how often a cluster client refreshes its slot map while in use
// (go-redis's default, 60s, kept the slots of a failed-over master pointing at the dead
// node for a minute). It is a backstop: reloadOnFailure refreshes at the first failure.
const clusterStateEvery = 2 * time.Second

// reloadOnFailure asks a cluster client to reload its slot map when a command fails
// without an answer from Redis (a refused or timed-out connection): after a master fails
// over, its slots are served by the promoted replica, which the client learns only from
// CLUSTER SLOTS. The reload is asynchronous and rate-limited by go-redis.
type reloadOnFailure struct{ c *goredis.ClusterClient }

var _ goredis.Hook = reloadOnFailure{}

func (h reloadOnFailure) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

func (h reloadOnFailure) check(err error) {
	if err == nil || errors.Is(err, goredis.Nil) || errors.Is(err, context.Canceled) {
		return
	}
	var re goredis.Error
	if errors.As(err, &re) && !isClusterDown(re.Error()) {
		return // a reply from Redis that says nothing about the slot map
	}
	h.c.ReloadState(context.Background())
}

// isClusterDown: the cluster refuses commands while a failed master's slots are not
// covered yet (CLUSTERDOWN), a replica not yet promoted answers for them (READONLY), or
// a slot is moving (TRYAGAIN).
func isClusterDown(msg string) bool {
	return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "READONLY") || strings.HasPrefix(msg, "TRYAGAIN")
}
