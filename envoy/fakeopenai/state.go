package fakeopenai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
)

// state is what the fake remembers between requests: stored responses,
// files, batches, stored chat completions and the unmetered objects. One
// mutex guards it all; no request holds it while writing to the network.
type state struct {
	mu         sync.Mutex
	responses  map[string]*storedResponse
	files      map[string]*storedFile
	fileOrder  []string
	batches    map[string]*storedBatch
	batchOrder []string
	chats      []chatCompletionJSON
	fineTunes  []fineTuneJSON
	videos     map[string]*videoJSON
}

func newState() *state {
	return &state{
		responses: map[string]*storedResponse{},
		files:     map[string]*storedFile{},
		batches:   map[string]*storedBatch{},
		videos:    map[string]*videoJSON{},
	}
}

// listJSON is OpenAI's cursor page: {"object":"list","data":[…],…}.
type listJSON struct {
	Object  string  `json:"object"`
	Data    []any   `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

// newList pages items (already in answer order); ids name the first and last.
func newList[T any](items []T, id func(T) string) listJSON {
	l := listJSON{Object: "list", Data: make([]any, len(items))}
	for i, it := range items {
		l.Data[i] = it
	}
	if len(items) > 0 {
		first, last := id(items[0]), id(items[len(items)-1])
		l.FirstID, l.LastID = &first, &last
	}
	return l
}

// reversed returns a reversed copy: OpenAI lists newest first by default.
func reversed[T any](in []T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}
	return out
}

// deletedJSON is the answer to a DELETE of an object.
type deletedJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// bufferWriter is an in-memory http.ResponseWriter: a batch runs its input
// lines through the very handlers that answer the live endpoints.
type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func newBufferWriter() *bufferWriter { return &bufferWriter{header: http.Header{}} }

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

func (b *bufferWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

// Flush lets writeSplit's http.ResponseController flush a buffer.
func (b *bufferWriter) Flush() {}

// compactJSON strips insignificant whitespace (a stored body read back).
func compactJSON(b []byte) json.RawMessage {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return json.RawMessage("null")
	}
	return out.Bytes()
}
