package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
	"github.com/proxide/proxide/internal/openaierr"
)

// routes registers the REST API. Each path also gets a method-less pattern so
// a wrong method is a JSON 405 rather than the catch-all 404.
func (s *server) routes(mux *http.ServeMux) {
	for _, rt := range []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"POST /v1/budgets", s.setBudget},
		{"GET /v1/budgets", s.listBudgets},
		{"GET /v1/budgets/{key...}", s.getBudget},
		{"DELETE /v1/budgets/{key...}", s.deleteBudget},
		{"GET /v1/clients", s.listClients},
		{"GET /v1/clients/{client_id...}", s.getClient},
		{"GET /v1/spend", s.spend},
		{"GET /v1/loops", s.listLoops},
		{"DELETE /v1/loops/{client_id...}", s.clearLoop},
		{"GET /v1/activity", s.activity},
	} {
		mux.Handle(rt.pattern, s.adminOnly(rt.h))
	}
	for path, allow := range map[string]string{
		"/v1/budgets":          "GET, POST",
		"/v1/budgets/{key...}": "GET, DELETE",
		"/v1/clients":          "GET",
		"/v1/clients/{id...}":  "GET",
		"/v1/spend":            "GET",
		"/v1/loops":            "GET",
		"/v1/loops/{id...}":    "DELETE",
		"/v1/activity":         "GET",
	} {
		mux.Handle(path, s.adminOnly(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "",
				r.Method+" is not allowed on "+r.URL.Path+" (allowed: "+allow+")")
		}))
	}
}

func (s *server) setBudget(w http.ResponseWriter, r *http.Request) {
	var body api.BudgetRequest
	if err := decodeBody(w, r, &body); err != nil {
		s.writeServiceError(w, err)
		return
	}
	b, created, err := s.svc.SetBudget(r.Context(), body)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, ruleView(b))
}

func (s *server) listBudgets(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r.URL.Query(), "limit", "cursor")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	limit, err := intParam(q, "limit")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	page, err := s.svc.ListBudgets(r.Context(), PageQuery{Cursor: q["cursor"], Limit: limit})
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	v := api.BudgetListView{Budgets: make([]api.RuleView, 0, len(page.Budgets)), NextCursor: page.NextCursor}
	for _, b := range page.Budgets {
		v.Budgets = append(v.Budgets, ruleView(b))
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) getBudget(w http.ResponseWriter, r *http.Request) {
	k, err := ParseBudgetKey(r.PathValue("key"))
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	b, err := s.svc.GetBudget(r.Context(), k)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ruleView(b))
}

func (s *server) deleteBudget(w http.ResponseWriter, r *http.Request) {
	k, err := ParseBudgetKey(r.PathValue("key"))
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	res, err := s.svc.DeleteBudget(r.Context(), k)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	v := api.DeleteView{Key: res.Key.String(), Deleted: true}
	if res.Fallback != nil {
		fb := ruleView(*res.Fallback)
		v.Effective = &fb
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) listClients(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r.URL.Query(), "sort", "limit", "cursor", "prefix", "history")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	limit, err := intParam(q, "limit")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	history, err := historyParam(q)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	page, err := s.svc.ListClients(r.Context(), api.ClientsQuery{Sort: q["sort"], Cursor: q["cursor"], Limit: limit, Prefix: q["prefix"], History: history})
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	v := api.ClientListView{Clients: make([]api.ClientView, 0, len(page.Clients)), NextCursor: page.NextCursor, Total: page.Total}
	for _, c := range page.Clients {
		v.Clients = append(v.Clients, clientView(c))
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) getClient(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.GetClient(r.Context(), r.PathValue("client_id"))
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, clientDetailView(c))
}

func (s *server) listLoops(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r.URL.Query(), "client_id", "limit", "cursor")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	limit, err := intParam(q, "limit")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	page, err := s.svc.ListLoops(r.Context(), budget.LoopQuery{ClientID: q["client_id"], Limit: limit, Cursor: q["cursor"]})
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, loopListView(page))
}

func (s *server) clearLoop(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client_id")
	cleared, err := s.svc.ClearLoop(r.Context(), id)
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.ClearLoopView{ClientID: id, Cleared: cleared})
}

func (s *server) spend(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r.URL.Query(), "client_id", "from", "to", "group_by", "format")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	format := q["format"]
	if format != "" && format != "json" && format != "csv" {
		s.writeServiceError(w, fieldErr("format", "unknown format %q (want json or csv)", format))
		return
	}
	rep, err := s.svc.Spend(r.Context(), api.SpendQuery{ClientID: q["client_id"], From: q["from"], To: q["to"], GroupBy: q["group_by"]})
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	if format == "csv" {
		writeCSV(w, rep)
		return
	}
	writeJSON(w, http.StatusOK, spendView(rep))
}

// queryParams returns the single values of the allowed parameters; unknown or
// repeated ones are refused so that a typo does not silently change a query.
func queryParams(v url.Values, allowed ...string) (map[string]string, error) {
	out := make(map[string]string, len(v))
	for name, vals := range v {
		if !contains(allowed, name) {
			return nil, fieldErr(name, "unknown query parameter (allowed: %s)", strings.Join(allowed, ", "))
		}
		if len(vals) != 1 {
			return nil, fieldErr(name, "given %d times, at most once allowed", len(vals))
		}
		out[name] = vals[0]
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func intParam(q map[string]string, name string) (int, error) {
	v, ok := q[name]
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fieldErr(name, "%q is not an integer", v)
	}
	if n == 0 {
		return 0, fieldErr(name, "must be between 1 and %d (got 0)", MaxPage)
	}
	return n, nil
}

// writeServiceError maps a Service error to its HTTP status.
func (s *server) writeServiceError(w http.ResponseWriter, err error) {
	var fe *rules.FieldError
	switch {
	case errors.Is(err, errBodyTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "", err.Error())
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", fe.Field, fe.Error())
	case errors.Is(err, budget.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_value", "", err.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "budget_not_found", "", err.Error())
	case errors.Is(err, ErrFileRule):
		writeError(w, http.StatusConflict, "conflict", "file_rule", "", err.Error())
	case errors.Is(err, budget.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "budget_ledger_unavailable", "", "The budget ledger is unavailable.")
	default:
		s.log.Error("admin: unexpected error", "err", err)
		writeError(w, http.StatusInternalServerError, "internal_error", "", "", "Internal error.")
	}
}

// writeError answers OpenAI's error body; code and param "" are null.
func writeError(w http.ResponseWriter, status int, errType, code, param, message string) {
	writeJSON(w, status, openaierr.New(errType, code, param, message))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
