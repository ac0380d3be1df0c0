// Package bench is Proxide's load harness: an Envoy-faithful ext_proc driver
// that replays whole HTTP exchanges (request headers, the buffered request
// body, response headers, pipelined response chunks) against any ext_proc
// server, and the measurements around it (server CPU from /proc, latency,
// memory). `make bench` runs it against a no-op floor and Proxide in
// alternating rounds and writes bench/results.md.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Exchange is one HTTP request as Envoy presents it to an ext_proc server.
type Exchange struct {
	Path, Client string
	Body         string
	Status       string // response :status
	ContentType  string
	Chunks       []string // response body pieces; the last one is sent with end_of_stream
}

// Workload builds the exchange a worker sends next (seq is unique per request).
type Workload func(seq int64) Exchange

// header builds a raw_value header, as Envoy sends them.
func header(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, RawValue: []byte(v)} }

// Run drives one exchange over a fresh Process stream the way Envoy does:
// each header or buffered-body message waits for its reply; response chunks
// are pipelined (all sent as they "arrive", replies read in order). It
// returns an error if a reply is of the wrong kind or the server refused.
func Run(ctx context.Context, c extprocv3.ExternalProcessorClient, ex Exchange) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.Process(ctx)
	if err != nil {
		return err
	}
	msgs := Script(ex)
	steps, chunks := msgs[:3], msgs[3:]
	for _, m := range steps {
		if err := st.Send(m); err != nil {
			return err
		}
		resp, err := st.Recv()
		if err != nil {
			return fmt.Errorf("reply to %T: %w", m.GetRequest(), err)
		}
		if resp.GetImmediateResponse() != nil {
			return fmt.Errorf("refused: %d %s", resp.GetImmediateResponse().GetStatus().GetCode(), resp.GetImmediateResponse().GetBody())
		}
		// A server that releases the request (mode_override) is not asked more.
		if resp.GetModeOverride() != nil {
			return st.CloseSend()
		}
	}
	// Pipelined chunks: a sender goroutine, replies read here in order.
	sendErr := make(chan error, 1)
	go func() {
		for _, m := range chunks {
			if err := st.Send(m); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	for range ex.Chunks {
		resp, err := st.Recv()
		if err != nil {
			return fmt.Errorf("chunk reply: %w", err)
		}
		if resp.GetResponseBody() == nil {
			return fmt.Errorf("chunk reply of kind %T", resp.GetResponse())
		}
	}
	if err := <-sendErr; err != nil {
		return err
	}
	// Envoy closes the stream after the last reply it needs.
	if err := st.CloseSend(); err != nil {
		return err
	}
	if _, err := st.Recv(); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		return nil // the server ended the stream: fine either way
	}
	return nil
}

// Script is the exchange as the messages Envoy sends, in order: request
// headers (with the protocol configuration), the buffered request body,
// response headers, then one message per response chunk, the last one with
// end_of_stream.
func Script(ex Exchange) []*extprocv3.ProcessingRequest {
	msgs := []*extprocv3.ProcessingRequest{
		{
			MetadataContext: &corev3.Metadata{},
			ProtocolConfig:  &extprocv3.ProtocolConfiguration{RequestBodyMode: 2 /* BUFFERED */, ResponseBodyMode: 1 /* STREAMED */},
			Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{
				Headers: []*corev3.HeaderValue{
					header(":authority", "envoy.local"), header(":path", ex.Path), header(":method", "POST"), header(":scheme", "http"),
					header("content-type", "application/json"), header("content-length", fmt.Sprint(len(ex.Body))),
					header("authorization", "Bearer prox-bench"), header("x-proxide-client-id", ex.Client),
					header("accept-encoding", "gzip"), header("x-request-id", ex.Client),
				}}}},
		},
		{MetadataContext: &corev3.Metadata{}, Request: &extprocv3.ProcessingRequest_RequestBody{
			RequestBody: &extprocv3.HttpBody{Body: []byte(ex.Body), EndOfStream: true}}},
		{MetadataContext: &corev3.Metadata{}, Request: &extprocv3.ProcessingRequest_ResponseHeaders{
			ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
				header(":status", ex.Status), header("content-type", ex.ContentType)}}}}},
	}
	for i, c := range ex.Chunks {
		msgs = append(msgs, &extprocv3.ProcessingRequest{MetadataContext: &corev3.Metadata{}, Request: &extprocv3.ProcessingRequest_ResponseBody{
			ResponseBody: &extprocv3.HttpBody{Body: []byte(c), EndOfStream: i == len(ex.Chunks)-1}}})
	}
	return msgs
}

// Words is a deterministic text of n words (a prompt of realistic shape).
func Words(n int, seed int64) string {
	return WordsFrom(wordsVocab, n, seed)
}

var wordsVocab = strings.Fields("the budget gateway meters every request and settles the exact cost of each streamed " +
	"response so that no agent or tenant can spend beyond its daily limit while loops are stopped early")

// WordsFrom is a deterministic text of n words drawn from vocab by seed.
func WordsFrom(vocab []string, n int, seed int64) string {
	var b strings.Builder
	x := uint64(seed)*2654435761 + 1 //nolint:gosec // G115: the seed's bits pick words; a negative seed is just another seed
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteString(vocab[x%uint64(len(vocab))])
	}
	return b.String()
}

// Clients is how many clients the workloads spread over: a SaaS's tenants
// or agents, each sending many requests, as Proxide is deployed.
const Clients = 1000

// client is the client id of request seq.
func client(seq int64) string { return "bench-" + strconv.FormatInt(seq%Clients, 10) }

// StreamedChat is the workload: a 350-word prompt, 20 SSE chunks of
// content plus the usage chunk and [DONE]. Each request of a client has its
// own prompt, so loop detection observes without firing.
func StreamedChat(seq int64) Exchange {
	body := `{"model":"gpt-4o-mini","stream":true,"max_tokens":400,"messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"` + Words(350, seq) + `"}]}`
	chunks := make([]string, 0, 22)
	for i := range 20 {
		chunks = append(chunks, fmt.Sprintf(`data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_b","choices":[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n", i))
	}
	chunks = append(chunks, `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":480,"completion_tokens":20,"total_tokens":500}}`+"\n\ndata: [DONE]\n\n", "")
	return Exchange{Path: "/openai/v1/chat/completions", Client: client(seq), Body: body,
		Status: "200", ContentType: "text/event-stream", Chunks: chunks}
}

// JSONChat is a non-streamed chat completion of the same prompt.
func JSONChat(seq int64) Exchange {
	body := `{"model":"gpt-4o-mini","max_tokens":400,"messages":[{"role":"user","content":"` + Words(350, seq) + `"}]}`
	resp := `{"id":"chatcmpl-b","object":"chat.completion","created":1764300000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		Words(60, seq+1) + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":470,"completion_tokens":60,"total_tokens":530}}`
	return Exchange{Path: "/openai/v1/chat/completions", Client: client(seq), Body: body,
		Status: "200", ContentType: "application/json", Chunks: []string{resp[:len(resp)/2], resp[len(resp)/2:], ""}}
}

// Embeddings embeds the prompt.
func Embeddings(seq int64) Exchange {
	body := `{"model":"text-embedding-3-small","input":"` + Words(350, seq) + `"}`
	resp := `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":460,"total_tokens":460}}`
	return Exchange{Path: "/openai/v1/embeddings", Client: client(seq), Body: body,
		Status: "200", ContentType: "application/json", Chunks: []string{resp, ""}}
}
