package extproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/openaierr"
)

// headerValue reads a header the way current Envoy sends it (raw_value) and
// falls back to value for older Envoys.
func headerValue(h *corev3.HeaderValue) string {
	if len(h.GetRawValue()) > 0 {
		return string(h.GetRawValue())
	}
	return h.GetValue()
}

// headerLookup returns the first value of a lower-case header name.
func headerLookup(m *corev3.HeaderMap, name string) (string, bool) {
	for _, h := range m.GetHeaders() {
		if strings.EqualFold(h.GetKey(), name) {
			return headerValue(h), true
		}
	}
	return "", false
}

// setHeader overwrites a header. Only raw_value is set: Envoy turns a
// value-only mutation into an empty header and rejects both.
func setHeader(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, RawValue: []byte(value)}}
}

// releaseAfterHeaders tells Envoy to send nothing more for this request: body
// modes must be spelled out, an omitted one would silently become NONE anyway
// but we mean it here.
var releaseAfterHeaders = &filterv3.ProcessingMode{
	RequestBodyMode:     filterv3.ProcessingMode_NONE,
	RequestTrailerMode:  filterv3.ProcessingMode_SKIP,
	ResponseHeaderMode:  filterv3.ProcessingMode_SKIP,
	ResponseBodyMode:    filterv3.ProcessingMode_NONE,
	ResponseTrailerMode: filterv3.ProcessingMode_SKIP,
}

func marshalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only plain structs of strings and numbers are encoded here.
		return []byte(`{"error":{"message":"internal error","type":"server_error"}}`)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// immediate builds a local reply with a JSON body. Every refusal Proxide makes
// carries x-should-retry: false, which the official SDKs obey: they would
// otherwise retry 429s and 5xx (after sleeping on retry-after), and a looping
// agent would get its answer instead of loop_detected.
func immediate(code int, details string, body []byte, extra ...*corev3.HeaderValueOption) *extprocv3.ProcessingResponse {
	headers := append([]*corev3.HeaderValueOption{setHeader("content-type", "application/json"),
		setHeader("x-should-retry", "false")}, extra...)
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: statusCode(code)},
			Headers: &extprocv3.HeaderMutation{SetHeaders: headers},
			Body:    body,
			Details: details,
		},
	}}
}

// statusCode converts an HTTP status for Envoy. The callers pass net/http
// constants or Options.LoopStatus, which the config bounds to 400-599; a code
// out of range would be a bug, answered as a 500 rather than a wrapped int32.
func statusCode(code int) typev3.StatusCode {
	if code < 100 || code > 599 {
		return typev3.StatusCode_InternalServerError
	}
	return typev3.StatusCode(code)
}

// openAIError answers with OpenAI's error shape, which every SDK parses:
// message, type, param (null when none) and code (the type when none).
func openAIError(code int, errType, errCode, param, message string) *extprocv3.ProcessingResponse {
	if errCode == "" {
		errCode = errType
	}
	return immediate(code, "proxide_"+errCode, marshalJSON(openaierr.New(errType, errCode, param, message)))
}

// endpointNotMetered refuses a paid endpoint Proxide cannot meter.
func endpointNotMetered(endpoint, why string) *extprocv3.ProcessingResponse {
	return openAIError(403, "invalid_request_error", "endpoint_not_metered", "",
		fmt.Sprintf("The endpoint %s costs money but %s, so Proxide refuses it to keep your budget. "+
			"An operator can allow it with endpoints.unmetered: allow (globally or for a budget rule).", endpoint, why))
}

// budgetError is exactly the 402 body of DESIGN.md, plus the code and param
// every OpenAI error carries and, for a strict rule's refusal, the request's
// estimate and what is left; field order matters to people reading it, so it
// is a struct, not a map.
type budgetError struct {
	Type               string   `json:"type"`
	Message            string   `json:"message"`
	ClientID           string   `json:"client_id"`
	LimitType          string   `json:"limit_type"`
	LimitUSD           float64  `json:"limit_usd"`
	SpentUSD           float64  `json:"spent_usd"`
	Code               string   `json:"code"`
	Param              *string  `json:"param"`
	RequestEstimateUSD *float64 `json:"request_estimate_usd,omitempty"`
	RemainingUSD       *float64 `json:"remaining_usd,omitempty"`
}

// budgetExceeded answers 402 with retry-after = seconds until the period resets.
func budgetExceeded(clientID string, ex budget.Exceeded, now time.Time) *extprocv3.ProcessingResponse {
	limitUSD := float64(ex.LimitNano) / 1e9
	kind := "Daily"
	if ex.Kind == budget.Monthly {
		kind = "Monthly"
	}
	e := budgetError{
		Type:      "budget_exceeded",
		Message:   fmt.Sprintf("%s budget limit of $%.2f exceeded for client %s", kind, limitUSD, clientID),
		ClientID:  clientID,
		LimitType: string(ex.Kind),
		LimitUSD:  limitUSD,
		SpentUSD:  usd6(ex.SpentNano),
		Code:      "budget_exceeded",
	}
	if ex.DoesNotFit {
		est, rem := usd6(ex.EstimateNano), usd6(ex.RemainingNano)
		e.RequestEstimateUSD, e.RemainingUSD = &est, &rem
		e.Message = fmt.Sprintf("%s budget limit of $%.2f for client %s: this request may cost up to $%.6f and $%.6f is left. "+
			"Lower max_tokens / max_completion_tokens / max_output_tokens (or n, or max_tool_calls) so that its worst case fits.",
			kind, limitUSD, clientID, est, rem)
	}
	body := marshalJSON(map[string]budgetError{"error": e})
	retry := int64(math.Ceil(ex.Period.RetryAfter(now).Seconds()))
	return immediate(402, "proxide_budget_exceeded", body, setHeader("retry-after", strconv.FormatInt(retry, 10)))
}

// usd6 is nano-USD as USD rounded to 6 decimals.
func usd6(nano int64) float64 { return math.Round(float64(nano)/1e3) / 1e6 }

// loopError is the loop_detected body of DESIGN.md, with code and param.
type loopError struct {
	Type          string  `json:"type"`
	Message       string  `json:"message"`
	ClientID      string  `json:"client_id"`
	Repeats       int     `json:"repeats"`
	WindowSeconds int64   `json:"window_seconds"`
	Code          string  `json:"code"`
	Param         *string `json:"param"`
}

// loopDetected refuses a looping client (or one still in its cooldown) with
// retry-after = the cooldown left.
func loopDetected(clientID string, v loop.Verdict, code int, window time.Duration, now time.Time) *extprocv3.ProcessingResponse {
	left := v.Until.Sub(now)
	retry := max(int64(1), int64(math.Ceil(left.Seconds())))
	msg := fmt.Sprintf("Loop detected for client %s: %d %s requests within %s; paused for %ds",
		clientID, v.Repeats, loopKindWord(v.Kind), window, retry)
	if !v.Loop {
		msg = fmt.Sprintf("Client %s is paused after a loop was detected; retry in %ds", clientID, retry)
	}
	body := marshalJSON(map[string]loopError{"error": {
		Type: "loop_detected", Message: msg, ClientID: clientID, Repeats: v.Repeats,
		WindowSeconds: int64(window / time.Second), Code: "loop_detected",
	}})
	return immediate(code, "proxide_loop_detected", body, setHeader("retry-after", strconv.FormatInt(retry, 10)))
}

func loopKindWord(kind string) string {
	switch kind {
	case loop.KindExact:
		return "identical"
	case loop.KindCycle:
		return "cycling"
	default:
		return "nearly identical"
	}
}
