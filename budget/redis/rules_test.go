package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/redistest"
)

func TestRuleStoreCap(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	r, err := New(client, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	r.maxRules = 3
	ledgertest.RunRuleStoreCap(t, r)
}
