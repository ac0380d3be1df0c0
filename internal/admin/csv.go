package admin

import (
	"encoding/csv"
	"net/http"
	"strconv"

	"github.com/proxide/proxide/internal/admin/api"
)

// CSV columns of GET /v1/spend?format=csv, in this order (stable: consumers
// may index by position). The first column is "date" or "model" by group_by.
var csvColumns = []string{"requests", "failed", "estimated", "prompt_tokens", "cached_tokens",
	"completion_tokens", "reasoning_tokens", "cost_usd", "estimated_cost_usd"}

// writeCSV writes a report as CSV with a header row; cost_usd is exact (from
// nano-dollars, 9 decimals), never a float.
func writeCSV(w http.ResponseWriter, rep SpendReport) {
	w.Header().Set("content-type", "text/csv; charset=utf-8")
	w.Header().Set("content-disposition", `attachment; filename="proxide-spend-`+rep.From+`-`+rep.To+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	first := []string{rep.GroupBy}
	if rep.GroupBy == api.GroupByDayModel {
		first = []string{api.GroupByDay, api.GroupByModel}
	}
	_ = cw.Write(append(first, csvColumns...))
	for _, r := range rep.Rows {
		switch rep.GroupBy {
		case api.GroupByModel:
			first = []string{r.Model}
		case api.GroupByDayModel:
			first = []string{r.Date, r.Model}
		default:
			first = []string{r.Date}
		}
		_ = cw.Write(append(first, itoa(r.Requests), itoa(r.Failed), itoa(r.Estimated), itoa(r.Tokens.Prompt),
			itoa(r.Tokens.Cached), itoa(r.Tokens.Completion), itoa(r.Tokens.Reasoning), decimalUSD(r.CostNano),
			decimalUSD(r.EstimatedNano)))
	}
	cw.Flush()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// decimalUSD formats nano-dollars exactly with 9 decimals: 1234567891 → "1.234567891".
func decimalUSD(nano int64) string {
	sign := ""
	if nano < 0 {
		sign, nano = "-", -nano
	}
	frac := strconv.FormatInt(nano%1_000_000_000, 10)
	for len(frac) < 9 {
		frac = "0" + frac
	}
	return sign + strconv.FormatInt(nano/1_000_000_000, 10) + "." + frac
}
