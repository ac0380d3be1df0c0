package admin

import (
	"context"
	"math"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/proxide/proxide/budget"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

// grpcClient serves the env's Service over a real gRPC server on loopback.
func (e *testEnv) grpcClient(t *testing.T) proxidev1.AdminServiceClient {
	t.Helper()
	lis, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	proxidev1.RegisterAdminServiceServer(srv, NewGRPCServer(e.svc, e.keys))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return proxidev1.NewAdminServiceClient(conn)
}

func withKey(key string) context.Context {
	if key == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

var adminCtx = withKey(adminKey)

// requireField checks an InvalidArgument status that names field, in the
// message and in a BadRequest detail.
func requireField(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	require.Equal(t, codes.InvalidArgument, st.Code(), "%v", err)
	require.Contains(t, st.Message(), field+": ")
	var found bool
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			require.Equal(t, field, br.GetFieldViolations()[0].GetField())
			found = true
		}
	}
	require.True(t, found, "a BadRequest detail names the field")
}

func TestGRPCAuth(t *testing.T) {
	e := newEnv(t)
	c := e.grpcClient(t)
	calls := map[string]func(ctx context.Context) error{
		"SetBudget": func(ctx context.Context) error {
			_, err := c.SetBudget(ctx, &proxidev1.SetBudgetRequest{ClientId: "x"})
			return err
		},
		"GetBudget": func(ctx context.Context) error {
			_, err := c.GetBudget(ctx, &proxidev1.GetBudgetRequest{Key: "vip"})
			return err
		},
		"ListBudgets": func(ctx context.Context) error {
			_, err := c.ListBudgets(ctx, &proxidev1.ListBudgetsRequest{})
			return err
		},
		"DeleteBudget": func(ctx context.Context) error {
			_, err := c.DeleteBudget(ctx, &proxidev1.DeleteBudgetRequest{Key: "x"})
			return err
		},
		"ListClients": func(ctx context.Context) error {
			_, err := c.ListClients(ctx, &proxidev1.ListClientsRequest{})
			return err
		},
		"GetClient": func(ctx context.Context) error {
			_, err := c.GetClient(ctx, &proxidev1.GetClientRequest{ClientId: "vip"})
			return err
		},
		"GetSpend": func(ctx context.Context) error { _, err := c.GetSpend(ctx, &proxidev1.GetSpendRequest{}); return err },
		"ListLoops": func(ctx context.Context) error {
			_, err := c.ListLoops(ctx, &proxidev1.ListLoopsRequest{})
			return err
		},
		"ClearLoop": func(ctx context.Context) error {
			_, err := c.ClearLoop(ctx, &proxidev1.ClearLoopRequest{ClientId: "vip"})
			return err
		},
	}
	e.loops.Cool("vip", testNow.Add(time.Minute))
	for name, call := range calls {
		before, cleared := e.store.Writes(), e.loops.Cleared()
		require.Equal(t, codes.Unauthenticated, status.Code(call(withKey(""))), name)
		require.Equal(t, codes.Unauthenticated, status.Code(call(withKey("prox-unknown"))), name)
		require.Equal(t, codes.PermissionDenied, status.Code(call(withKey(gatewayKey))), name)
		require.Equal(t, before, e.store.Writes(), "%s: nothing stored without the admin scope", name)
		require.Equal(t, cleared, e.loops.Cleared(), "%s: nothing cleared without the admin scope", name)
		code := status.Code(call(adminCtx))
		require.NotContains(t, []codes.Code{codes.Unauthenticated, codes.PermissionDenied, codes.Internal, codes.Unimplemented}, code, name)
	}
	require.Contains(t, e.store.Writes(), "put client:x", "the admin call stored")
	require.Equal(t, []string{"vip"}, e.loops.Cleared(), "the admin call cleared")
}

func TestGRPCSetBudget(t *testing.T) {
	e := newEnv(t)
	c := e.grpcClient(t)
	res, err := c.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{ClientId: "user-1", DailyLimitNano: proto.Int64(500_000_000),
		MonthlyLimitUsd: proto.Float64(5), Action: proxidev1.Action_ACTION_ALERT, AlertThresholds: &proxidev1.AlertThresholds{}})
	require.NoError(t, err)
	require.Empty(t, cmpProto(&proxidev1.SetBudgetResponse{Created: true, Budget: &proxidev1.Budget{
		Key: "client:user-1", ClientId: "user-1", DailyLimitUsd: proto.Float64(0.5), DailyLimitNano: proto.Int64(500_000_000),
		MonthlyLimitUsd: proto.Float64(5), MonthlyLimitNano: proto.Int64(5_000_000_000), Action: proxidev1.Action_ACTION_ALERT,
		Source: "api", Admission: proxidev1.Admission_ADMISSION_SOFT}}, res))
	require.Equal(t, []float64{}, e.rules.Resolve("user-1").AlertThresholds, "an empty AlertThresholds message means none")
	require.Equal(t, 1, e.rules.Refreshes())

	res, err = c.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{Default: true})
	require.NoError(t, err)
	require.True(t, res.GetCreated())
	require.Equal(t, []float64{0.8, 1}, res.GetBudget().GetAlertThresholds(), "unset AlertThresholds means the default")
	require.Equal(t, proxidev1.Action_ACTION_BLOCK, res.GetBudget().GetAction())

	writes := e.store.Writes()
	for _, tc := range []struct {
		name  string
		req   *proxidev1.SetBudgetRequest
		field string
	}{
		{"NaN", &proxidev1.SetBudgetRequest{ClientId: "u", DailyLimitUsd: proto.Float64(math.NaN())}, "daily_limit_usd"},
		{"Infinity", &proxidev1.SetBudgetRequest{ClientId: "u", MonthlyLimitUsd: proto.Float64(math.Inf(1))}, "monthly_limit_usd"},
		{"negative nano", &proxidev1.SetBudgetRequest{ClientId: "u", DailyLimitNano: proto.Int64(-1)}, "daily_limit_nano"},
		{"absurd nano", &proxidev1.SetBudgetRequest{ClientId: "u", DailyLimitNano: proto.Int64(math.MaxInt64)}, "daily_limit_nano"},
		{"both units", &proxidev1.SetBudgetRequest{ClientId: "u", DailyLimitUsd: proto.Float64(1), DailyLimitNano: proto.Int64(1)}, "daily_limit_usd"},
		{"unknown action", &proxidev1.SetBudgetRequest{ClientId: "u", Action: 9}, "action"},
		{"NaN threshold", &proxidev1.SetBudgetRequest{ClientId: "u", AlertThresholds: &proxidev1.AlertThresholds{Values: []float64{math.NaN()}}}, "alert_thresholds[0]"},
		{"no target", &proxidev1.SetBudgetRequest{}, "client_id"},
		{"control character", &proxidev1.SetBudgetRequest{ClientId: "a\nb"}, "client_id"},
	} {
		_, err := c.SetBudget(adminCtx, tc.req)
		requireField(t, err, tc.field)
	}
	require.Equal(t, writes, e.store.Writes(), "nothing stored on errors")

	e.store.Err = budget.ErrUnavailable
	_, err = c.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{ClientId: "u"})
	require.Equal(t, codes.Unavailable, status.Code(err))
}

func TestGRPCBudgetsAndErrors(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.grpcClient(t)
	b, err := c.GetBudget(adminCtx, &proxidev1.GetBudgetRequest{Key: "match:trial-*"})
	require.NoError(t, err)
	require.Equal(t, "file", b.GetSource())
	require.Equal(t, int64(50_000_000), b.GetDailyLimitNano())
	require.Nil(t, b.MonthlyLimitUsd, "unlimited is unset")

	_, err = c.GetBudget(adminCtx, &proxidev1.GetBudgetRequest{Key: "nobody"})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = c.GetBudget(adminCtx, &proxidev1.GetBudgetRequest{Key: "match:x"})
	requireField(t, err, "key")
	_, err = c.DeleteBudget(adminCtx, &proxidev1.DeleteBudgetRequest{Key: "vip"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	_, err = c.DeleteBudget(adminCtx, &proxidev1.DeleteBudgetRequest{Key: "nobody"})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = c.ListBudgets(adminCtx, &proxidev1.ListBudgetsRequest{Limit: 5000})
	requireField(t, err, "limit")
	_, err = c.ListClients(adminCtx, &proxidev1.ListClientsRequest{Sort: 7})
	requireField(t, err, "sort")
	_, err = c.GetSpend(adminCtx, &proxidev1.GetSpendRequest{From: "2026-11-29", To: "2026-11-28"})
	requireField(t, err, "from")
	_, err = c.GetClient(adminCtx, &proxidev1.GetClientRequest{})
	requireField(t, err, "client_id")

	e.ledger.Err = budget.ErrUnavailable
	_, err = c.GetClient(adminCtx, &proxidev1.GetClientRequest{ClientId: "vip"})
	require.Equal(t, codes.Unavailable, status.Code(err))
}

func cmpProto(want, got proto.Message) string {
	return cmp.Diff(want, got, protocmp.Transform())
}
