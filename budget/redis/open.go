package redis

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Open connects to Redis by URL and returns a store whose Close closes the
// connection. Supported forms (query options are go-redis URL options, e.g.
// ?dial_timeout=1s&pool_size=50):
//
//	redis://[user:pass@]host:port[/db]            single node
//	rediss://…                                     single node over TLS
//	unix://[user:pass@]/path/goredis.sock[?db=N]     single node over a Unix socket
//	redis://h1:6379,h2:6379,h3:6379                Redis Cluster (two or more seed nodes)
//	redis-cluster://h1:6379[,h2:6379…]             Redis Cluster, also with one seed node
//	rediss-cluster://…                             Redis Cluster over TLS
//	redis-sentinel://[user:pass@]s1:26379[,s2:26379…][/db]?master_name=mymaster
//	rediss-sentinel://…                            Sentinel-managed master over TLS
//
// With Sentinel, the userinfo authenticates to the sentinels and ?username=&password=
// to the master (go-redis ParseFailoverURL semantics).
// For a cluster every client's keys live in one slot, so no operation crosses slots.
// Errors never echo the URL, which may hold a password.
func Open(rawURL string, opts Options) (*Store, error) {
	client, err := redisClient(rawURL)
	if err != nil {
		return nil, err
	}
	r, err := New(client, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	r.owned = true
	return r, nil
}

// redisClient builds the go-redis client of a URL; see Open.
func redisClient(rawURL string) (goredis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("budget: redis url: want scheme://host, e.g. redis://localhost:6379")
	}
	var kind, base string
	switch scheme {
	case "redis", "rediss", "unix":
		kind, base = "", scheme
	case "redis-cluster", "rediss-cluster":
		kind, base = "cluster", strings.TrimSuffix(scheme, "-cluster")
	case "redis-sentinel", "rediss-sentinel":
		kind, base = "sentinel", strings.TrimSuffix(scheme, "-sentinel")
	default:
		return nil, fmt.Errorf("budget: redis url: unsupported scheme %q", scheme)
	}

	// Split a comma-separated host list out of the authority, which net/url rejects.
	authEnd := strings.IndexAny(rest, "/?")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	authority, tail := rest[:authEnd], rest[authEnd:]
	userinfo, hostList := "", authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, hostList = authority[:at+1], authority[at+1:]
	}
	hosts := strings.Split(hostList, ",")
	for _, h := range hosts {
		if h == "" && (len(hosts) > 1 || base != "unix") {
			return nil, errors.New("budget: redis url: empty host in host list")
		}
	}
	if base == "unix" && (kind != "" || len(hosts) > 1) {
		return nil, errors.New("budget: redis url: unix sockets support a single node only")
	}
	if kind == "" && len(hosts) > 1 {
		kind = "cluster"
	}
	first := base + "://" + userinfo + hosts[0] + tail

	switch kind {
	case "cluster":
		o, err := goredis.ParseClusterURL(first)
		if err != nil {
			return nil, redactURLErr(err)
		}
		o.Addrs = append(o.Addrs, hosts[1:]...)
		o.ContextTimeoutEnabled = true
		if o.ClusterStateReloadInterval == 0 {
			o.ClusterStateReloadInterval = clusterStateEvery
		}
		cc := goredis.NewClusterClient(o)
		cc.AddHook(reloadOnFailure{c: cc}) // clusterreload.go
		return cc, nil
	case "sentinel":
		o, err := goredis.ParseFailoverURL(first)
		if err != nil {
			return nil, redactURLErr(err)
		}
		if o.MasterName == "" {
			return nil, errors.New("budget: redis url: sentinel needs ?master_name=")
		}
		o.SentinelAddrs = append(o.SentinelAddrs, hosts[1:]...)
		o.ContextTimeoutEnabled = true
		return goredis.NewFailoverClient(o), nil
	default:
		o, err := goredis.ParseURL(first)
		if err != nil {
			return nil, redactURLErr(err)
		}
		// Every ledger call carries the request path's deadline; go-redis only
		// honours it (a hung server must not hold a request past Envoy's
		// message timeout) with this set.
		o.ContextTimeoutEnabled = true
		return goredis.NewClient(o), nil
	}
}

// redactURLErr drops the URL (and its password) that net/url errors quote.
func redactURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("budget: redis url: %w", err)
}
