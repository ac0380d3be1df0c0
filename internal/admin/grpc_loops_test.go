package admin

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

func TestGRPCSetBudgetLoopDetection(t *testing.T) {
	e := newEnv(t)
	c := e.grpcClient(t)
	res, err := c.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{ClientId: "agent-1", LoopDetection: &proxidev1.LoopDetection{
		Mode: proxidev1.LoopMode_LOOP_MODE_ALERT, Window: durationpb.New(90 * time.Second), MaxRepeats: 3, Similarity: 0.95,
		Cooldown: durationpb.New(time.Hour)}})
	require.NoError(t, err)
	require.Empty(t, cmpProto(&proxidev1.LoopDetection{Mode: proxidev1.LoopMode_LOOP_MODE_ALERT, Window: durationpb.New(90 * time.Second),
		MaxRepeats: 3, Similarity: 0.95, Cooldown: durationpb.New(time.Hour)}, res.GetBudget().GetLoopDetection()))
	require.Equal(t, rules.LoopSettings{Mode: rules.LoopModeAlert, Window: 90 * time.Second, MaxRepeats: 3, Similarity: 0.95, Cooldown: time.Hour},
		e.rules.Resolve("agent-1").Loop)

	res, err = c.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{Match: "eval-*", LoopDetection: &proxidev1.LoopDetection{Mode: proxidev1.LoopMode_LOOP_MODE_OFF}})
	require.NoError(t, err)
	require.Empty(t, cmpProto(&proxidev1.LoopDetection{Mode: proxidev1.LoopMode_LOOP_MODE_OFF}, res.GetBudget().GetLoopDetection()), "unset fields stay unset")
	b, err := c.GetBudget(adminCtx, &proxidev1.GetBudgetRequest{Key: "match:eval-*"})
	require.NoError(t, err)
	require.Equal(t, proxidev1.LoopMode_LOOP_MODE_OFF, b.GetLoopDetection().GetMode())

	res, err = c.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{ClientId: "agent-1", LoopDetection: &proxidev1.LoopDetection{}})
	require.NoError(t, err)
	require.Nil(t, res.GetBudget().GetLoopDetection(), "all inheriting: unset")
	require.True(t, e.rules.Resolve("agent-1").Loop.IsZero())

	writes := e.store.Writes()
	for _, tc := range []struct {
		name  string
		loop  *proxidev1.LoopDetection
		field string
	}{
		{"unknown mode", &proxidev1.LoopDetection{Mode: 9}, "loop_detection.mode"},
		{"malformed duration", &proxidev1.LoopDetection{Window: &durationpb.Duration{Seconds: 1, Nanos: -5}}, "loop_detection.window"},
		{"negative window", &proxidev1.LoopDetection{Window: durationpb.New(-time.Second)}, "loop_detection.window"},
		{"cooldown too long", &proxidev1.LoopDetection{Cooldown: durationpb.New(200 * time.Hour)}, "loop_detection.cooldown"},
		{"out of range duration", &proxidev1.LoopDetection{Cooldown: &durationpb.Duration{Seconds: math.MaxInt64}}, "loop_detection.cooldown"},
		{"too many repeats", &proxidev1.LoopDetection{MaxRepeats: 40}, "loop_detection.max_repeats"},
		{"negative repeats", &proxidev1.LoopDetection{MaxRepeats: -2}, "loop_detection.max_repeats"},
		{"NaN similarity", &proxidev1.LoopDetection{Similarity: math.NaN()}, "loop_detection.similarity"},
		{"similarity above 1", &proxidev1.LoopDetection{Similarity: 1.01}, "loop_detection.similarity"},
	} {
		_, err := c.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{ClientId: "u", LoopDetection: tc.loop})
		requireField(t, err, tc.field)
	}
	require.Equal(t, writes, e.store.Writes(), "nothing stored on errors")
}

func TestGRPCLoops(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.seedLoops()
	c := e.grpcClient(t)

	page, err := c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.GetNextCursor())
	require.Empty(t, cmpProto(&proxidev1.LoopEvent{ClientId: "vip", At: timestamppb.New(testNow.Add(-30*time.Second + 123*time.Millisecond)),
		Kind: "exact", Repeats: 5, Signature: &proxidev1.LoopSignature{Exact: "00000000deadbeef", Sim: "0123456789abcdef"},
		Excerpt: "user: retry the tool call", Blocked: true, CooldownUntil: timestamppb.New(testNow.Add(4 * time.Minute))}, page.GetEvents()[0]))
	page, err = c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{Cursor: page.GetNextCursor()})
	require.NoError(t, err)
	require.Len(t, page.GetEvents(), 3)
	require.Nil(t, page.GetEvents()[0].GetCooldownUntil(), "no cooldown: unset")
	page, err = c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{ClientId: "vip"})
	require.NoError(t, err)
	require.Len(t, page.GetEvents(), 2)

	cl, err := c.GetClient(adminCtx, &proxidev1.GetClientRequest{ClientId: "vip"})
	require.NoError(t, err)
	require.Equal(t, proxidev1.ClientState_CLIENT_STATE_LOOP_COOLDOWN, cl.GetState())
	require.Len(t, cl.GetRecentLoops(), 2)
	list, err := c.ListClients(adminCtx, &proxidev1.ListClientsRequest{})
	require.NoError(t, err)
	for _, cl := range list.GetClients() {
		require.Empty(t, cl.GetRecentLoops(), "GetClient only")
	}

	res, err := c.ClearLoop(adminCtx, &proxidev1.ClearLoopRequest{ClientId: "vip"})
	require.NoError(t, err)
	require.Empty(t, cmpProto(&proxidev1.ClearLoopResponse{ClientId: "vip", Cleared: true}, res))
	res, err = c.ClearLoop(adminCtx, &proxidev1.ClearLoopRequest{ClientId: "vip"})
	require.NoError(t, err)
	require.False(t, res.GetCleared())
	cl, err = c.GetClient(adminCtx, &proxidev1.GetClientRequest{ClientId: "vip"})
	require.NoError(t, err)
	require.Equal(t, proxidev1.ClientState_CLIENT_STATE_OK, cl.GetState())

	_, err = c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{Limit: 1001})
	requireField(t, err, "limit")
	_, err = c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{Cursor: "nope"})
	requireField(t, err, "cursor")
	_, err = c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{ClientId: "a\x00"})
	requireField(t, err, "client_id")
	_, err = c.ClearLoop(adminCtx, &proxidev1.ClearLoopRequest{})
	requireField(t, err, "client_id")
	e.loops.Err = budget.ErrUnavailable
	_, err = c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err))
	_, err = c.ClearLoop(adminCtx, &proxidev1.ClearLoopRequest{ClientId: "vip"})
	require.Equal(t, codes.Unavailable, status.Code(err))
}
