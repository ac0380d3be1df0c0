package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/proxide/proxide/internal/admin/api"
)

// The demo of `proxide dev --demo` (make demo): against the fake upstream,
// it shows a client metered, then refused with 402, and a looping agent
// stopped with 429, printing each request as a curl to paste and what came
// back. The client ids are the built-in config's: user-12345 has $0.50 a
// day, agent-7 the default rule.

type demoCall struct {
	client, body string
	words        string // x-fake-words: the fake's reply length
}

type demoReply struct {
	status int
	err    struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
}

func runDemo(ctx context.Context, w io.Writer, r devReady) error {
	hc := &http.Client{Timeout: 30 * time.Second} // reuses its connections like an SDK
	defer hc.CloseIdleConnections()
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
	long := func(part int) demoCall {
		return demoCall{client: "user-12345", words: "20000",
			body: fmt.Sprintf(`{"model":"gpt-4o","max_tokens":20000,"messages":[{"role":"user","content":"Write a long story, part %d"}]}`, part)}
	}

	p("== 1. A client is metered ==\n")
	first := long(1)
	p("%s\n", demoCurl(r, first))
	rep, err := demoDo(ctx, hc, r, first)
	if err != nil {
		return err
	}
	spent, err := demoSpent(ctx, hc, r, first.client)
	if err != nil {
		return err
	}
	p("  → %d; %s has spent $%.6f of its $0.50 today (20,000 output tokens of gpt-4o at $10/M, plus the prompt)\n\n", rep.status, first.client, spent)

	p("== 2. Over its budget: 402 ==\n")
	for part := 2; ; part++ {
		rep, err := demoDo(ctx, hc, r, long(part))
		if err != nil {
			return err
		}
		if rep.status == http.StatusPaymentRequired {
			p("%s\n", demoCurl(r, long(part)))
			p("  → 402 %s: %s\n    (the OpenAI SDKs raise it as an error with status 402 and do not retry)\n\n", rep.err.Type, rep.err.Message)
			break
		}
		spent, err := demoSpent(ctx, hc, r, first.client)
		if err != nil {
			return err
		}
		p("  part %d → %d; spent $%.6f\n", part, rep.status, spent)
		if part > 10 {
			return errors.New("demo: no 402 after 10 requests (is user-12345's budget the built-in config's?)")
		}
	}

	p("== 3. A looping agent: 429 ==\n")
	loop := demoCall{client: "agent-7", body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Call the weather tool again"}]}`}
	p("%s   (the same request, again and again)\n", demoCurl(r, loop))
	for i := 1; i <= 10; i++ {
		rep, err := demoDo(ctx, hc, r, loop)
		if err != nil {
			return err
		}
		if rep.status == http.StatusTooManyRequests {
			p("  request %d → 429 %s: %s\n\n", i, rep.err.Type, rep.err.Message)
			p("The dashboard (%s/) shows both clients; `proxide loops clear agent-7 --addr %s` ends the cooldown.\nCtrl-C stops it.\n", r.Admin, r.Admin)
			return nil
		}
		p("  request %d → %d\n", i, rep.status)
	}
	return errors.New("demo: the loop was not stopped after 10 requests")
}

func demoCurl(r devReady, c demoCall) string {
	s := fmt.Sprintf("$ curl -s %s/chat/completions -H 'authorization: Bearer %s' -H '%s: %s'", r.BaseURL, r.Key, r.ClientHdr, c.client)
	if c.words != "" {
		s += " -H 'x-fake-words: " + c.words + "'"
	}
	return s + " \\\n    -H 'content-type: application/json' -d '" + c.body + "'"
}

func demoDo(ctx context.Context, hc *http.Client, r devReady, c demoCall) (demoReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.BaseURL+"/chat/completions", bytes.NewReader([]byte(c.body)))
	if err != nil {
		return demoReply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+r.Key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(r.ClientHdr, c.client)
	if c.words != "" {
		req.Header.Set("x-fake-words", c.words)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return demoReply{}, fmt.Errorf("demo: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return demoReply{}, fmt.Errorf("demo: %w", err)
	}
	out := demoReply{status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || json.Unmarshal(e.Error, &out.err) != nil {
			return out, fmt.Errorf("demo: %d with a body that is no OpenAI error: %q", resp.StatusCode, b)
		}
	}
	return out, nil
}

// demoSpent reads a client's spend today from the admin API.
func demoSpent(ctx context.Context, hc *http.Client, r devReady, client string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Admin+"/v1/clients/"+client, http.NoBody)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.Key)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("demo: admin API: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var v api.ClientDetailView
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("demo: admin API answered %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("demo: admin API: %w", err)
	}
	return v.Today.SpentUSD, nil
}
