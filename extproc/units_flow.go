package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/internal/endpoints"
	"github.com/proxide/proxide/internal/media"
	"github.com/proxide/proxide/internal/usage"
	"github.com/proxide/proxide/pricing"
)

// streamRequestBody asks Envoy to stream a multipart upload to Proxide in
// pieces rather than buffer it whole (audio files reach 25 MB): the form is
// read as it passes, its tail held back until the request is admitted. Body
// modes are literal in a mode_override, so both are spelled out.
var streamRequestBody = &filterv3.ProcessingMode{
	RequestBodyMode:     filterv3.ProcessingMode_STREAMED,
	RequestTrailerMode:  filterv3.ProcessingMode_SKIP,
	ResponseHeaderMode:  filterv3.ProcessingMode_SEND,
	ResponseBodyMode:    filterv3.ProcessingMode_STREAMED,
	ResponseTrailerMode: filterv3.ProcessingMode_SKIP,
}

// maxRespBuf bounds a small JSON response kept whole to read one field.
const maxRespBuf = 64 << 10

// unitHeaders starts a unit-priced request: its body decides, read as JSON
// or, for uploads, as a multipart form streamed through.
func (x *exchange) unitHeaders(h *extprocv3.HttpHeaders, mutation *extprocv3.HeaderMutation) (*extprocv3.ProcessingResponse, phase) {
	s := x.s
	x.kind, x.unit = kindMetered, &unit{}
	if h.GetEndOfStream() {
		s.opts.Metrics.Request(x.opName(), "bad_request")
		return x.reject(openAIError(400, "invalid_request_error", "invalid_body", "", "This endpoint needs a request body."))
	}
	if r, blocked := s.refused(x.clientID, s.opts.Now()); blocked {
		return x.reject(x.refuse(r, s.opts.Now()))
	}
	isForm := strings.HasPrefix(strings.ToLower(strings.TrimSpace(x.contentType)), "multipart/")
	if multipartOperations[x.route.Operation] || isForm {
		limits := media.FormLimits{MaxFieldBytes: 256 << 10}
		if x.route.Operation == endpoints.AudioTranscription || x.route.Operation == endpoints.AudioTranslation {
			limits.FileSink = func(field, filename, contentType string) io.Writer {
				if field != "file" || x.unit.fileDuration != nil {
					return nil
				}
				m := media.NewDurationMeter(formatHint(filename, contentType))
				x.unit.fileDuration = m
				return m
			}
		}
		form, err := media.NewForm(x.contentType, limits)
		if err != nil {
			s.opts.Metrics.Request(x.opName(), "bad_request")
			return x.reject(openAIError(400, "invalid_request_error", "invalid_body", "",
				"This endpoint takes a multipart/form-data body: "+err.Error()))
		}
		x.unit.form = form
		resp := headersReply(mutation)
		resp.ModeOverride = streamRequestBody
		return resp, phaseRequestBody
	}
	return headersReply(mutation), phaseRequestBody
}

// formatHint is what an uploaded file's name or type says its format is.
func formatHint(filename, contentType string) string {
	if i := strings.LastIndexByte(filename, '.'); i >= 0 && i < len(filename)-1 {
		return strings.ToLower(filename[i+1:])
	}
	return contentType
}

// onFormBody reads one piece of a multipart upload. The tail of what came is
// held back until the whole form is known and the request admitted, so the
// upstream never has a complete form Proxide did not admit.
func (x *exchange) onFormBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, phase) {
	u := x.unit
	data := b.GetBody()
	if err := u.form.Write(data); err != nil {
		return x.badForm(err)
	}
	first := len(x.pending) == 0 && !x.forwardedPiece
	whole := b.GetEndOfStream() || u.form.Complete()
	if !whole {
		x.pending = append(x.pending, data...)
		release := len(x.pending) - tailHold
		if release <= 0 {
			return bodyReply(nil, nil), phaseRequestBody
		}
		out := append([]byte(nil), x.pending[:release]...)
		x.pending = append(x.pending[:0], x.pending[release:]...)
		x.forwardedPiece = true
		return bodyReply(out, nil), phaseRequestBody
	}
	res, err := u.form.Close()
	if err != nil && (!errors.Is(err, media.ErrTruncated) || !u.form.Complete()) {
		return x.badForm(err)
	}
	if resp := x.admitUnit(ctx, nil, res); resp != nil {
		return resp, phaseDone
	}
	if first {
		return continueBody(), phaseUpstream // the whole body in one message: forwarded as is
	}
	out := x.pending
	x.pending = nil
	out = append(out, data...)
	return bodyReply(out, nil), phaseUpstream
}

func (x *exchange) badForm(err error) (*extprocv3.ProcessingResponse, phase) {
	x.s.opts.Metrics.Request(x.opName(), "bad_request")
	return x.reject(openAIError(400, "invalid_request_error", "invalid_body", "",
		"Proxide could not read the multipart body: "+err.Error()))
}

// admitUnit prices a unit-priced request and reserves its worst case.
func (x *exchange) admitUnit(ctx context.Context, body []byte, form media.FormResult) *extprocv3.ProcessingResponse {
	s := x.s
	x.rule = s.opts.Rules.Resolve(x.clientID)
	e, err := x.estimateUnit(body, form)
	if err != nil {
		s.opts.Metrics.Request(x.opName(), "bad_request")
		code := "invalid_body"
		if strings.Contains(err.Error(), "no price") {
			code = "model_not_priced"
		}
		return openAIError(400, "invalid_request_error", code, "", "Proxide cannot price this request: "+err.Error())
	}
	x.est = e
	x.req.Model = e.model
	now := s.opts.Now()
	x.resID = newReservationID()
	if _, resp := x.reserve(ctx, e.nano, nil, now); resp != nil {
		return resp
	}
	x.reserved = true
	return nil
}

// unitMeter prepares the response side of a unit-priced request.
func (x *exchange) unitMeter(contentType string) {
	u := x.unit
	ct := strings.ToLower(contentType)
	switch {
	case u.duration != nil && !strings.Contains(ct, "json") && !strings.Contains(ct, "event-stream"):
		// binary speech: measured as it passes
	case u.tokens || strings.Contains(ct, "event-stream") || strings.Contains(ct, "json"):
		u.duration = nil
		x.meter = usage.NewMeter(usage.MeterOptions{Endpoint: usage.ChatCompletions, RequestModel: u.model,
			SSE: strings.Contains(ct, "event-stream")})
	}
}

// unitChunk feeds one response chunk to the unit's meters.
func (x *exchange) unitChunk(chunk []byte) {
	u := x.unit
	if u.duration != nil {
		_, _ = u.duration.Write(chunk)
	}
	if x.meter != nil {
		x.meter.Write(chunk, false)
	}
	if u.seconds && len(x.respBuf) < maxRespBuf {
		x.respBuf = append(x.respBuf, chunk[:min(len(chunk), maxRespBuf-len(x.respBuf))]...)
	}
}

// unitCharge decides a unit-priced request's charge; complete says the
// response ended normally.
func (x *exchange) unitCharge(complete bool) charge {
	u := x.unit
	c := charge{model: u.model}
	if x.meter != nil {
		x.meter.Write(nil, true)
		if r := x.meter.Result(); r.HasUsage {
			if r.Model != "" {
				c.model = r.Model
			}
			c.usage = x.unitUsage(r.Usage)
			return c
		}
	}
	switch {
	case u.exact:
		// Fixed by the request: what OpenAI bills whether or not the
		// client read the answer.
		return charge{model: u.model, fixed: true, fixedNano: u.exactNano, estimated: u.estimated}
	case u.seconds && complete:
		var v struct {
			Seconds json.RawMessage `json:"seconds"`
		}
		if json.Unmarshal(x.respBuf, &v) == nil {
			if n, ok := parseSeconds(v.Seconds); ok {
				tp, _, err := x.lookupUnit(u.row)
				if err == nil {
					nano, _ := pricing.CostOf(pricing.TierPrice{OutputPerMSeconds: tp.OutputPerMSeconds}, pricing.Usage{OutputMillis: n * 1000})
					return charge{model: u.model, fixed: true, fixedNano: nano}
				}
			}
		}
	case u.duration != nil && complete:
		if d, exact := u.duration.Result(); exact {
			// The audio it generated, at the model's per-second price, and its
			// input at most one token per byte: an estimate of a token bill.
			return charge{model: u.model, estimated: true,
				usage: pricing.Usage{PromptTokens: u.inputChars * 4, OutputMillis: d.Milliseconds()}}
		}
	}
	return x.worstCase()
}

// unitUsage maps a unit response's usage to the pricer's: gpt-image output
// is image tokens, speech output is audio tokens, whisper bills seconds.
func (x *exchange) unitUsage(r usage.Usage) pricing.Usage {
	u := x.unit
	p := toPricing(r)
	p.InputMillis = r.AudioMillis
	if u.imageOutput && p.ImageCompletionTokens == 0 {
		p.ImageCompletionTokens = p.CompletionTokens
	}
	if u.audioOutput && p.AudioCompletionTokens == 0 {
		p.AudioCompletionTokens = p.CompletionTokens
	}
	return p
}
