package admin

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
	"github.com/proxide/proxide/internal/auth"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

// grpcServer is the gRPC front door: proxide.v1.AdminService over Service.
type grpcServer struct {
	proxidev1.UnimplementedAdminServiceServer
	svc  *Service
	keys Authenticator
}

// NewGRPCServer returns proxide.v1.AdminService over svc. Register it on a
// grpc.Server with proxidev1.RegisterAdminServiceServer. Every call checks the
// `authorization` metadata like the REST API: none or an unknown key is
// Unauthenticated, a key without the admin scope PermissionDenied.
func NewGRPCServer(svc *Service, keys Authenticator) proxidev1.AdminServiceServer {
	return &grpcServer{svc: svc, keys: keys}
}

// authorize applies checkKey to the call's metadata. It runs per method, not
// as an interceptor, because the admin service shares its grpc.Server with
// ext_proc, whose calls carry no Proxide key.
func (g *grpcServer) authorize(ctx context.Context) error {
	var authz string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	switch err := checkKey(g.keys, authz); {
	case errors.Is(err, auth.ErrMissingScope):
		return status.Error(codes.PermissionDenied, "this key lacks the admin scope")
	case err != nil:
		return status.Error(codes.Unauthenticated, "a Proxide key with the admin scope is required (metadata authorization: Bearer prox-…)")
	}
	return nil
}

// grpcError maps a Service error to a status; invalid arguments carry a
// google.rpc.BadRequest naming the field.
func grpcError(err error) error {
	var fe *rules.FieldError
	switch {
	case errors.As(err, &fe):
		st := status.New(codes.InvalidArgument, fe.Error())
		if fe.Field != "" {
			if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: fe.Field, Description: fe.Msg}}}); derr == nil {
				st = d
			}
		}
		return st.Err()
	case errors.Is(err, budget.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrFileRule):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, budget.ErrUnavailable):
		return status.Error(codes.Unavailable, "the budget ledger is unavailable")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, "internal error")
}

func (g *grpcServer) SetBudget(ctx context.Context, req *proxidev1.SetBudgetRequest) (*proxidev1.SetBudgetResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	spec, err := specFromProto(req)
	if err != nil {
		return nil, grpcError(err)
	}
	b, created, err := g.svc.SetBudget(ctx, spec)
	if err != nil {
		return nil, grpcError(err)
	}
	return &proxidev1.SetBudgetResponse{Budget: budgetProto(b), Created: created}, nil
}

func (g *grpcServer) GetBudget(ctx context.Context, req *proxidev1.GetBudgetRequest) (*proxidev1.Budget, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	k, err := ParseBudgetKey(req.GetKey())
	if err != nil {
		return nil, grpcError(err)
	}
	b, err := g.svc.GetBudget(ctx, k)
	if err != nil {
		return nil, grpcError(err)
	}
	return budgetProto(b), nil
}

func (g *grpcServer) ListBudgets(ctx context.Context, req *proxidev1.ListBudgetsRequest) (*proxidev1.ListBudgetsResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	page, err := g.svc.ListBudgets(ctx, PageQuery{Cursor: req.GetCursor(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, grpcError(err)
	}
	out := &proxidev1.ListBudgetsResponse{NextCursor: page.NextCursor, Budgets: make([]*proxidev1.Budget, 0, len(page.Budgets))}
	for _, b := range page.Budgets {
		out.Budgets = append(out.Budgets, budgetProto(b))
	}
	return out, nil
}

func (g *grpcServer) DeleteBudget(ctx context.Context, req *proxidev1.DeleteBudgetRequest) (*proxidev1.DeleteBudgetResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	k, err := ParseBudgetKey(req.GetKey())
	if err != nil {
		return nil, grpcError(err)
	}
	res, err := g.svc.DeleteBudget(ctx, k)
	if err != nil {
		return nil, grpcError(err)
	}
	out := &proxidev1.DeleteBudgetResponse{Key: res.Key.String(), Deleted: true}
	if res.Fallback != nil {
		out.Effective = budgetProto(*res.Fallback)
	}
	return out, nil
}

func (g *grpcServer) ListClients(ctx context.Context, req *proxidev1.ListClientsRequest) (*proxidev1.ListClientsResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	var sort string
	switch req.GetSort() {
	case proxidev1.ClientSort_CLIENT_SORT_UNSPECIFIED, proxidev1.ClientSort_CLIENT_SORT_DAY:
		sort = "day"
	case proxidev1.ClientSort_CLIENT_SORT_MONTH:
		sort = "month"
	default:
		return nil, grpcError(fieldErr("sort", "unknown sort %d", req.GetSort()))
	}
	page, err := g.svc.ListClients(ctx, api.ClientsQuery{Sort: sort, Cursor: req.GetCursor(), Limit: int(req.GetLimit()), Prefix: req.GetPrefix()})
	if err != nil {
		return nil, grpcError(err)
	}
	out := &proxidev1.ListClientsResponse{NextCursor: page.NextCursor, Total: page.Total, Clients: make([]*proxidev1.Client, 0, len(page.Clients))}
	for _, c := range page.Clients {
		out.Clients = append(out.Clients, clientProto(c))
	}
	return out, nil
}

func (g *grpcServer) GetClient(ctx context.Context, req *proxidev1.GetClientRequest) (*proxidev1.Client, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	c, err := g.svc.GetClient(ctx, req.GetClientId())
	if err != nil {
		return nil, grpcError(err)
	}
	return clientProto(c), nil
}

func (g *grpcServer) GetSpend(ctx context.Context, req *proxidev1.GetSpendRequest) (*proxidev1.GetSpendResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	var groupBy string
	switch req.GetGroupBy() {
	case proxidev1.SpendGroupBy_SPEND_GROUP_BY_UNSPECIFIED, proxidev1.SpendGroupBy_SPEND_GROUP_BY_DAY:
		groupBy = api.GroupByDay
	case proxidev1.SpendGroupBy_SPEND_GROUP_BY_MODEL:
		groupBy = api.GroupByModel
	default:
		return nil, grpcError(fieldErr("group_by", "unknown grouping %d", req.GetGroupBy()))
	}
	rep, err := g.svc.Spend(ctx, api.SpendQuery{ClientID: req.GetClientId(), From: req.GetFrom(), To: req.GetTo(), GroupBy: groupBy})
	if err != nil {
		return nil, grpcError(err)
	}
	return spendProto(rep), nil
}
