package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestClientURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		check func(t *testing.T, c goredis.UniversalClient)
	}{
		{"redis://localhost:6379/2?dial_timeout=1s", func(t *testing.T, c goredis.UniversalClient) {
			o := c.(*goredis.Client).Options()
			require.Equal(t, "localhost:6379", o.Addr)
			require.Equal(t, 2, o.DB)
			require.Nil(t, o.TLSConfig)
		}},
		{"rediss://user:secret@cache.example:6380", func(t *testing.T, c goredis.UniversalClient) {
			o := c.(*goredis.Client).Options()
			require.Equal(t, "cache.example:6380", o.Addr)
			require.NotNil(t, o.TLSConfig)
			require.Equal(t, "user", o.Username)
			require.Equal(t, "secret", o.Password)
		}},
		{"unix:///run/goredis.sock", func(t *testing.T, c goredis.UniversalClient) {
			o := c.(*goredis.Client).Options()
			require.Equal(t, "unix", o.Network)
			require.Equal(t, "/run/goredis.sock", o.Addr)
		}},
		{"redis://:pw@a:7000,b:7001,c:7002?read_timeout=2s", func(t *testing.T, c goredis.UniversalClient) {
			cc, ok := c.(*goredis.ClusterClient)
			require.True(t, ok, "a host list is a cluster")
			o := cc.Options()
			require.Equal(t, []string{"a:7000", "b:7001", "c:7002"}, o.Addrs)
			require.Equal(t, "pw", o.Password)
		}},
		{"redis-cluster://seed:7000", func(t *testing.T, c goredis.UniversalClient) {
			require.Equal(t, []string{"seed:7000"}, c.(*goredis.ClusterClient).Options().Addrs)
		}},
		{"rediss-cluster://a:7000,b:7000", func(t *testing.T, c goredis.UniversalClient) {
			o := c.(*goredis.ClusterClient).Options()
			require.Len(t, o.Addrs, 2)
			require.NotNil(t, o.TLSConfig)
		}},
		{"redis-sentinel://s1:26379,s2:26379/1?master_name=mymaster", func(t *testing.T, c goredis.UniversalClient) {
			// A failover client is a *goredis.Client talking to whichever node is master.
			_, ok := c.(*goredis.Client)
			require.True(t, ok)
		}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c, err := redisClient(tc.url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			tc.check(t, c)
		})
	}
}

func TestClientURLErrors(t *testing.T) {
	for url, want := range map[string]string{
		"localhost:6379":                       "scheme://",
		"http://localhost":                     "unsupported scheme",
		"redis://a:1,,b:2":                     "empty host",
		"redis-sentinel://s1:26379":            "master_name",
		"redis://u:hunter2@host:6379/x":        "invalid database",
		"redis://u:hunter2@host:6379?bogus=1":  "unexpected option",
		"redis://u:hunter2@host:notaport/":     "redis url",
		"redis-cluster://u:hunter2@h:1?foo=ba": "unexpected option",
	} {
		_, err := redisClient(url)
		require.ErrorContains(t, err, want, url)
		require.NotContains(t, err.Error(), "hunter2", "errors must not leak the password")
	}
}
