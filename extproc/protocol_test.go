package extproc

import (
	"errors"
	"testing"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
)

// failingStream fails the Send of reply number failAt (0-based).
type failingStream struct {
	fakeStream
	failAt, sent int
}

func (f *failingStream) Send(r *extprocv3.ProcessingResponse) error {
	defer func() { f.sent++ }()
	if f.sent == f.failAt {
		return errors.New("envoy went away")
	}
	return f.fakeStream.Send(r)
}

const chatBody = `{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`

// The phase advances only after its reply was sent: a body reply that never
// reached Envoy means the request never went upstream, so its reservation is
// released, not charged.
func TestFailedBodyReplyReleasesTheReservation(t *testing.T) {
	f := newFixture(t, nil)
	st := &failingStream{fakeStream: fakeStream{in: []*extprocv3.ProcessingRequest{chatHeaders(), reqBody(chatBody)}}, failAt: 1}
	st.ctx = t.Context()
	require.NoError(t, f.srv.Process(st))
	require.Len(t, f.ledger.reserves, 1)
	require.Len(t, f.ledger.settles, 1)
	require.True(t, f.ledger.settles[0].Failed, "released, nothing charged")
	require.Zero(t, f.ledger.settles[0].ActualNano)

	// Once the body reply was sent, the request went upstream: a stream that
	// ends there is charged (the worst case, nothing having been read).
	f = newFixture(t, nil)
	f.run(t, nil, chatHeaders(), reqBody(chatBody))
	require.Len(t, f.ledger.settles, 1)
	require.False(t, f.ledger.settles[0].Failed)
	require.Equal(t, f.ledger.reserves[0].EstimateNano, f.ledger.settles[0].ActualNano)
}

// Messages Envoy never sends in this order are refused with a local reply,
// never let through: a hostile caller or a misconfigured filter cannot get a
// metered request upstream unreserved, whatever the failure mode.
func TestOutOfOrderMessagesAreRefused(t *testing.T) {
	body := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(chatBody), EndOfStream: true}}}
	tests := []struct {
		name string
		msgs []*extprocv3.ProcessingRequest
		want int // status of the last reply
	}{
		{"body before headers", []*extprocv3.ProcessingRequest{body}, 500},
		{"response before the request body (body mode NONE)", []*extprocv3.ProcessingRequest{chatHeaders(),
			respHeaders(false, ":status", "200", "content-type", "application/json")}, 500},
		{"a second request_headers", []*extprocv3.ProcessingRequest{chatHeaders(), chatHeaders()}, 500},
		{"response body before response headers", []*extprocv3.ProcessingRequest{chatHeaders(), reqBody(chatBody),
			respBody(`{}`, true)}, 500},
		{"trailers instead of a body", []*extprocv3.ProcessingRequest{chatHeaders(),
			{Request: &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: &extprocv3.HttpTrailers{}}}}, 400},
		{"an unknown message while the body is awaited", []*extprocv3.ProcessingRequest{chatHeaders(), {}}, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			out := f.run(t, nil, tc.msgs...)
			require.NotEmpty(t, out)
			code, h, _ := immediateOf(t, out[len(out)-1])
			require.Equal(t, tc.want, code)
			require.Equal(t, "false", h["x-should-retry"])
			for _, s := range f.ledger.settles {
				if s.ActualNano > 0 {
					require.Len(t, f.ledger.reserves, 1, "only a forwarded request is ever charged")
				}
			}
		})
	}
}

// BUFFERED_PARTIAL sends the rest of a large body unprocessed: it can never be
// metered and is refused with 413 before anything is reserved.
func TestBufferedPartialBodyIsRefused(t *testing.T) {
	headers := chatHeaders()
	headers.ProtocolConfig = &extprocv3.ProtocolConfiguration{RequestBodyMode: filterv3.ProcessingMode_BUFFERED_PARTIAL}
	part := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(chatBody[:20])}}}
	f := newFixture(t, nil)
	out := f.run(t, nil, headers, part)
	code, _, _ := immediateOf(t, out[1])
	require.Equal(t, 413, code)
	require.Empty(t, f.ledger.reserves)
}

// A lease is renewed while the request runs and dropped once settled.
func TestLeasesRenewInFlightReservations(t *testing.T) {
	f := newFixture(t, nil)
	// A request whose body reply was sent and whose response has not come.
	x := f.srv.newExchange()
	x.resID, x.clientID, x.reserved = "r1", "c1", true
	x.advance(phaseUpstream)
	require.Equal(t, 1, f.srv.InFlight())
	f.srv.RenewLeases(t.Context())
	require.Len(t, f.ledger.extends, 1)
	require.Equal(t, []budget.Lease{{ID: "r1", ClientID: "c1", Expiry: fixedNow.Add(f.srv.opts.ReservationTTL)}}, f.ledger.extends[0])
	f.srv.dropLease(x)
	f.srv.RenewLeases(t.Context())
	require.Len(t, f.ledger.extends, 1, "nothing in flight, no ledger call")
}

// A Responses turn that continues a stored response is reserved at the context
// Proxide remembered when it settled that response, not the model's whole
// context window; an unknown previous response is reserved at the window.
func TestPreviousResponseIsEstimatedFromItsRememberedContext(t *testing.T) {
	f := newFixture(t, nil)
	respHdrs := func(path string) *extprocv3.ProcessingRequest {
		return reqHeaders(false, ":method", "POST", ":path", path, "authorization", "Bearer "+gatewayKey, "x-proxide-client-id", "c")
	}
	first := `{"id":"resp_a","object":"response","status":"completed","model":"gpt-4o-2024-08-06","output":[],` +
		`"usage":{"input_tokens":3000,"output_tokens":500,"total_tokens":3500}}`
	f.run(t, nil, respHdrs("/v1/responses"), reqBody(`{"model":"gpt-4o","input":"hi","max_output_tokens":100}`),
		respHeaders(false, ":status", "200", "content-type", "application/json"), respBody(first, true))
	require.Equal(t, int64(3500), f.ledger.contexts["resp:resp_a"], "the context the stored response now holds")

	next := `{"model":"gpt-4o","input":"and then?","previous_response_id":"resp_a","max_output_tokens":100}`
	f.run(t, nil, respHdrs("/v1/responses"), reqBody(next))
	unknown := `{"model":"gpt-4o","input":"and then?","previous_response_id":"resp_zzz","max_output_tokens":100}`
	f.run(t, nil, respHdrs("/v1/responses"), reqBody(unknown))
	require.Len(t, f.ledger.reserves, 3)
	// gpt-4o: $2.5/M in, $10/M out; the known turn holds 3,500 tokens of context.
	known, window := f.ledger.reserves[1].EstimateNano, f.ledger.reserves[2].EstimateNano
	require.Greater(t, known, int64(3500*2_500+100*10_000))
	require.Less(t, known, int64(4000*2_500+100*10_000))
	require.Equal(t, int64(128_000*2_500+100*10_000), window, "gpt-4o's context window, the worst case")
}
