package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// storedResponse is a response kept for GET /v1/responses/{id} (store=true,
// the default). A background one walks queued → in_progress → completed
// over successive polls: with N = x-fake-background-polls of the create
// (default 1), polls 1…N-1 answer queued, poll N in_progress, poll N+1 on
// the terminal object. Streaming it to the end completes it at once.
type storedResponse struct {
	plan        *responsePlan
	events      []storedEvent
	input       []json.RawMessage
	background  bool
	pollsBefore int
	polls       int
	done        bool
	cancelled   *responseJSON
}

// current is the object a poll (or cancel) sees after k GETs.
func (sr *storedResponse) current(k int) responseJSON {
	switch {
	case sr.cancelled != nil:
		return *sr.cancelled
	case !sr.background || sr.done || k > sr.pollsBefore:
		return sr.plan.final
	}
	r := sr.plan.base // in_progress, usage null
	if k == 0 || k < sr.pollsBefore {
		r.Status = "queued"
	}
	return r
}

func (ex *exchange) storeResponse(req *responsesRequest, p *responsePlan, evs []storedEvent) *storedResponse {
	sr := &storedResponse{plan: p, events: evs, input: inputItemsOf(req.Input, ex.id),
		background: req.Background, pollsBefore: ex.ctl.backgroundPolls}
	st := ex.s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.responses[p.base.ID] = sr
	return sr
}

// createBackground answers a background create: status queued, usage null
// at once, or (stream) the queued events and everything after them.
func (ex *exchange) createBackground(req *responsesRequest, p *responsePlan) error {
	evs := ex.responseEvents(p, true)
	sr := ex.storeResponse(req, p, evs)
	if !req.Stream {
		ex.writeJSON(http.StatusOK, sr.current(0))
		return nil
	}
	err := ex.writeEvents(evs, -1)
	if err == nil {
		ex.markDone(sr)
	}
	return err
}

func (ex *exchange) markDone(sr *storedResponse) {
	ex.s.st.mu.Lock()
	defer ex.s.st.mu.Unlock()
	sr.done = true
}

func (ex *exchange) lookupResponse(id string) *storedResponse {
	st := ex.s.st
	st.mu.Lock()
	sr := st.responses[id]
	st.mu.Unlock()
	if sr == nil {
		ex.notFound(fmt.Sprintf("Response with id '%s' not found.", id), "")
	}
	return sr
}

// getResponse answers GET /v1/responses/{id}: one poll, or with
// ?stream=true the events after ?starting_after=N to the end.
func (ex *exchange) getResponse(id string) error {
	sr := ex.lookupResponse(id)
	if sr == nil {
		return nil
	}
	q := ex.r.URL.Query()
	if q.Get("stream") == "true" {
		ex.s.st.mu.Lock()
		cancelled := sr.cancelled != nil
		ex.s.st.mu.Unlock()
		if cancelled {
			ex.invalid("Cannot stream a cancelled response.", "stream")
			return nil
		}
		after, err := strconv.Atoi(q.Get("starting_after"))
		if err != nil {
			after = -1
		}
		if err := ex.writeEvents(sr.events, after); err != nil {
			return err
		}
		ex.markDone(sr)
		return nil
	}
	st := ex.s.st
	st.mu.Lock()
	sr.polls++
	r := sr.current(sr.polls)
	st.mu.Unlock()
	ex.writeJSON(http.StatusOK, r)
	return nil
}

// cancelResponse: a queued background response is cancelled with usage
// null; an in-progress one with the usage generated so far = the full input
// and half the final output and reasoning tokens (rounded down), and the
// first half of the words. Cancelling twice answers the same object.
func (ex *exchange) cancelResponse(id string) error {
	sr := ex.lookupResponse(id)
	if sr == nil {
		return nil
	}
	st := ex.s.st
	st.mu.Lock()
	cur := sr.current(sr.polls)
	var failure string
	switch {
	case !sr.background:
		failure = "Only responses created with background=true can be cancelled."
	case cur.Status == "cancelled":
	case cur.Status == "queued" || cur.Status == "in_progress":
		c := ex.cancelled(sr.plan, cur.Status == "in_progress")
		sr.cancelled, cur = &c, c
	default:
		failure = "Cannot cancel a response with status '" + cur.Status + "'."
	}
	st.mu.Unlock()
	if failure != "" {
		ex.invalid(failure, "")
		return nil
	}
	ex.writeJSON(http.StatusOK, cur)
	return nil
}

func (ex *exchange) cancelled(p *responsePlan, started bool) responseJSON {
	c := p.base
	c.Status = "cancelled"
	if !started {
		return c
	}
	half := usage{prompt: p.u.prompt, cached: p.u.cached, completion: p.u.completion / 2, reasoning: p.u.reasoning / 2}
	msg := outputItemJSON{ID: ex.idFor("msg_"), Type: "message", Status: "incomplete", Role: "assistant",
		Content: []contentPartJSON{textPart(strings.Join(p.pieces[:len(p.pieces)/2], ""))}}
	c.Output = []any{msg}
	c.Usage = mustJSON(half.responsesJSON())
	return c
}

func (ex *exchange) deleteResponse(id string) error {
	st := ex.s.st
	st.mu.Lock()
	_, ok := st.responses[id]
	delete(st.responses, id)
	st.mu.Unlock()
	if !ok {
		ex.notFound(fmt.Sprintf("Response with id '%s' not found.", id), "")
		return nil
	}
	ex.writeJSON(http.StatusOK, deletedJSON{ID: id, Object: "response", Deleted: true})
	return nil
}

// inputItems answers GET /v1/responses/{id}/input_items (newest first
// unless ?order=asc, like OpenAI).
func (ex *exchange) inputItems(id string) error {
	sr := ex.lookupResponse(id)
	if sr == nil {
		return nil
	}
	items := sr.input
	if ex.r.URL.Query().Get("order") != "asc" {
		items = reversed(items)
	}
	ex.writeJSON(http.StatusOK, newList(items, func(raw json.RawMessage) string {
		var v struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &v)
		return v.ID
	}))
	return nil
}

// inputItemsOf turns `input` into stored items: a string becomes one user
// message; message items get an id and their string content becomes an
// input_text part; other items are kept as sent.
func inputItemsOf(raw json.RawMessage, exID int64) []json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = mustJSON([]map[string]any{{"role": "user", "content": s}})
	}
	var items []map[string]json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	out := make([]json.RawMessage, 0, len(items))
	for i, it := range items {
		id := fmt.Sprintf("msg_fake%06d_in%d", exID, i)
		if _, ok := it["id"]; ok {
			_ = json.Unmarshal(it["id"], &id)
		}
		if _, ok := it["role"]; !ok {
			out = append(out, compactJSON(mustJSON(it)))
			continue
		}
		content := it["content"]
		var text string
		if json.Unmarshal(content, &text) == nil {
			content = mustJSON([]map[string]string{{"type": "input_text", "text": text}})
		}
		out = append(out, orderedJSON(map[string]any{"id": id, "type": "message", "role": it["role"],
			"content": content, "status": "completed"}, "id", "type", "role", "content", "status"))
	}
	return out
}
