package fakeopenai

import (
	"encoding/json"
	"strings"
)

// Streaming event payloads: "type" and "sequence_number" first, as OpenAI sends them.
type responseEvent struct {
	Type     string        `json:"type"`
	Sequence int           `json:"sequence_number"`
	Response *responseJSON `json:"response"`
}

type itemEvent struct {
	Type        string `json:"type"`
	Sequence    int    `json:"sequence_number"`
	OutputIndex int    `json:"output_index"`
	Item        any    `json:"item"`
}

// progressEvent is a built-in tool call's in_progress / searching / … event.
type progressEvent struct {
	Type        string `json:"type"`
	Sequence    int    `json:"sequence_number"`
	OutputIndex int    `json:"output_index"`
	ItemID      string `json:"item_id"`
}

type partEvent struct {
	Type         string          `json:"type"`
	Sequence     int             `json:"sequence_number"`
	ItemID       string          `json:"item_id"`
	OutputIndex  int             `json:"output_index"`
	ContentIndex int             `json:"content_index"`
	Part         contentPartJSON `json:"part"`
}

type textEvent struct {
	Type         string            `json:"type"`
	Sequence     int               `json:"sequence_number"`
	ItemID       string            `json:"item_id"`
	OutputIndex  int               `json:"output_index"`
	ContentIndex int               `json:"content_index"`
	Delta        *string           `json:"delta,omitempty"`
	Text         *string           `json:"text,omitempty"`
	Logprobs     []json.RawMessage `json:"logprobs"`
}

// storedEvent is one SSE event of a response, kept so that a background
// response can be streamed again from any sequence number.
type storedEvent struct {
	seq     int
	name    string
	data    json.RawMessage
	visible bool // the first visible delta: x-fake-think-ms waits before it
}

// responseEvents is the whole stream of a response: response.created
// (background: status queued, then response.queued), response.in_progress,
// each output item (added, its progress events, done; the message with its
// content part and one output_text.delta per word), and response.completed
// or response.incomplete with the usage.
func (ex *exchange) responseEvents(p *responsePlan, background bool) []storedEvent {
	var evs []storedEvent
	add := func(name string, seqOf func(seq int) any) {
		evs = append(evs, storedEvent{seq: len(evs), name: name, data: mustJSON(seqOf(len(evs)))})
	}
	snapshot := func(typ string, r responseJSON) {
		add(typ, func(seq int) any { return responseEvent{Type: typ, Sequence: seq, Response: &r} })
	}
	base := p.base
	if background {
		queued := base
		queued.Status = "queued"
		snapshot("response.created", queued)
		snapshot("response.queued", queued)
	} else {
		snapshot("response.created", base)
	}
	snapshot("response.in_progress", base)
	msg := len(p.items) - 1
	for idx, it := range p.items {
		add("response.output_item.added", func(seq int) any {
			return itemEvent{Type: "response.output_item.added", Sequence: seq, OutputIndex: idx, Item: it.added}
		})
		for _, typ := range it.events {
			add(typ, func(seq int) any { return progressEvent{Type: typ, Sequence: seq, OutputIndex: idx, ItemID: it.id} })
		}
		if idx == msg {
			ex.messageEvents(p, idx, it.id, add)
		}
		add("response.output_item.done", func(seq int) any {
			return itemEvent{Type: "response.output_item.done", Sequence: seq, OutputIndex: idx, Item: it.done}
		})
	}
	typ := "response.completed"
	if p.final.Status == "incomplete" {
		typ = "response.incomplete"
	}
	snapshot(typ, p.final)
	for i := range evs {
		if evs[i].name == "response.output_text.delta" {
			evs[i].visible = true
			break
		}
	}
	return evs
}

// messageEvents adds the content part and text events of the message item.
func (ex *exchange) messageEvents(p *responsePlan, idx int, itemID string, add func(string, func(int) any)) {
	add("response.content_part.added", func(seq int) any {
		return partEvent{Type: "response.content_part.added", Sequence: seq, ItemID: itemID, OutputIndex: idx, Part: textPart("")}
	})
	for _, piece := range p.pieces {
		add("response.output_text.delta", func(seq int) any {
			return textEvent{Type: "response.output_text.delta", Sequence: seq, ItemID: itemID, OutputIndex: idx,
				Delta: &piece, Logprobs: []json.RawMessage{}}
		})
	}
	text := strings.Join(p.pieces, "")
	add("response.output_text.done", func(seq int) any {
		return textEvent{Type: "response.output_text.done", Sequence: seq, ItemID: itemID, OutputIndex: idx,
			Text: &text, Logprobs: []json.RawMessage{}}
	})
	add("response.content_part.done", func(seq int) any {
		return partEvent{Type: "response.content_part.done", Sequence: seq, ItemID: itemID, OutputIndex: idx, Part: textPart(text)}
	})
}

// writeEvents streams the events after sequence number `after` (-1: all),
// thinking (x-fake-think-ms) before the first visible delta.
func (ex *exchange) writeEvents(evs []storedEvent, after int) error {
	s := ex.startSSE()
	for _, e := range evs {
		if e.seq <= after {
			continue
		}
		if e.visible {
			if err := ex.think(); err != nil {
				return err
			}
		}
		if err := s.raw(e.name, e.data); err != nil {
			return err
		}
	}
	return nil
}
