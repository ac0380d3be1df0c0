// Package client is a Go client of Proxide's admin REST API and the logic of
// the `proxide budgets`, `proxide clients`, `proxide spend` and `proxide loops`
// commands. It decodes the wire types the server encodes (package admin/api),
// so the two cannot disagree on the format, without importing the server.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/proxide/proxide/internal/admin/api"
	"github.com/proxide/proxide/internal/openaierr"
)

// DefaultAddr is the admin API address when neither --addr nor
// PROXIDE_ADMIN_ADDR is set.
const DefaultAddr = "http://127.0.0.1:8080"

// maxResponseBytes bounds what the client reads of one answer.
const maxResponseBytes = 64 << 20

// Client talks to the admin REST API.
type Client struct {
	base *url.URL
	key  string
	hc   *http.Client
}

// New returns a client of the admin API at addr ("http://host:8080", or
// "host:8080" for plain HTTP). key is a Proxide key with the admin scope ("" sends
// none, for a development server without keys). httpClient nil means one with
// a 30 s timeout.
func New(addr, key string, httpClient *http.Client) (*Client, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("admin address %q: want http(s)://host:port", addr)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, key: key, hc: httpClient}, nil
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Type    string
	Code    string
	Param   string // the field at fault, if any
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, e.Type)
}

// Do sends one request and returns the body and status of a 2xx answer
// (JSON or CSV) as is; any other answer is an *APIError. path is escaped
// already (see PathEscape); body, when not nil, is sent as JSON.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, int, error) {
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("admin API at %s: %w", c.base.Host, err)
	}
	defer func() { _ = res.Body.Close() }() // a close error after the read changes nothing
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return nil, res.StatusCode, fmt.Errorf("reading the answer: %w", err)
	}
	if res.StatusCode/100 == 2 {
		return data, res.StatusCode, nil
	}
	return nil, res.StatusCode, c.apiError(res.StatusCode, data)
}

// PathEscape escapes a rule key or client id as one path segment, so that an
// id with "/", "%" or "?" reaches the server intact.
func PathEscape(s string) string { return url.PathEscape(s) }

func (c *Client) apiError(status int, data []byte) error {
	var b openaierr.Body
	e := &APIError{Status: status}
	if json.Unmarshal(data, &b) == nil && b.Error.Message != "" {
		e.Type, e.Message = b.Error.Type, b.Error.Message
		if b.Error.Param != nil {
			e.Param = *b.Error.Param
		}
		if b.Error.Code != nil {
			e.Code = *b.Error.Code
		}
	} else {
		e.Type, e.Message = http.StatusText(status), strings.TrimSpace(string(data))
	}
	if status == http.StatusUnauthorized && c.key == "" {
		e.Message += " Set PROXIDE_ADMIN_KEY to a key with the admin scope."
	}
	return e
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	data, _, err := c.Do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	return decode(data, v)
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return nil
}

// SetBudget creates or replaces a rule; created is false for a replacement.
func (c *Client) SetBudget(ctx context.Context, req api.BudgetRequest) (rule api.RuleView, created bool, err error) {
	data, status, err := c.Do(ctx, http.MethodPost, "/v1/budgets", nil, req)
	if err != nil {
		return api.RuleView{}, false, err
	}
	err = decode(data, &rule)
	return rule, status == http.StatusCreated, err
}

// GetBudget returns the rule in force for key (a client id, client:<id>,
// match:<pattern> or default).
func (c *Client) GetBudget(ctx context.Context, key string) (api.RuleView, error) {
	var v api.RuleView
	err := c.getJSON(ctx, "/v1/budgets/"+PathEscape(key), nil, &v)
	return v, err
}

// ListBudgets returns one page of the rules in force; limit 0 is the server's default.
func (c *Client) ListBudgets(ctx context.Context, limit int, cursor string) (api.BudgetListView, error) {
	var v api.BudgetListView
	err := c.getJSON(ctx, "/v1/budgets", pageQuery(limit, cursor), &v)
	return v, err
}

// DeleteBudget deletes the API rule of key.
func (c *Client) DeleteBudget(ctx context.Context, key string) (api.DeleteView, error) {
	var v api.DeleteView
	data, _, err := c.Do(ctx, http.MethodDelete, "/v1/budgets/"+PathEscape(key), nil, nil)
	if err != nil {
		return v, err
	}
	err = decode(data, &v)
	return v, err
}

// ListClients returns one page of clients.
func (c *Client) ListClients(ctx context.Context, q api.ClientsQuery) (api.ClientListView, error) {
	var v api.ClientListView
	err := c.getJSON(ctx, "/v1/clients", clientsQuery(q), &v)
	return v, err
}

// GetClient returns one client with its recent loop events.
func (c *Client) GetClient(ctx context.Context, id string) (api.ClientDetailView, error) {
	var v api.ClientDetailView
	err := c.getJSON(ctx, "/v1/clients/"+PathEscape(id), nil, &v)
	return v, err
}

// Spend returns a spend report.
func (c *Client) Spend(ctx context.Context, q api.SpendQuery) (api.SpendView, error) {
	var v api.SpendView
	err := c.getJSON(ctx, "/v1/spend", spendQuery(q, ""), &v)
	return v, err
}

// SpendCSV returns a spend report as CSV, as the server writes it.
func (c *Client) SpendCSV(ctx context.Context, q api.SpendQuery) ([]byte, error) {
	data, _, err := c.Do(ctx, http.MethodGet, "/v1/spend", spendQuery(q, "csv"), nil)
	return data, err
}

// ListLoops returns one page of loop events, newest first, of clientID or of
// every client when it is ""; limit 0 is the server's default.
func (c *Client) ListLoops(ctx context.Context, clientID string, limit int, cursor string) (api.LoopListView, error) {
	var v api.LoopListView
	err := c.getJSON(ctx, "/v1/loops", loopsQuery(clientID, limit, cursor), &v)
	return v, err
}

// ClearLoop ends a client's loop cooldown now.
func (c *Client) ClearLoop(ctx context.Context, clientID string) (api.ClearLoopView, error) {
	var v api.ClearLoopView
	data, _, err := c.Do(ctx, http.MethodDelete, "/v1/loops/"+PathEscape(clientID), nil, nil)
	if err != nil {
		return v, err
	}
	err = decode(data, &v)
	return v, err
}

func loopsQuery(clientID string, limit int, cursor string) url.Values {
	q := pageQuery(limit, cursor)
	if clientID != "" {
		q.Set("client_id", clientID)
	}
	return q
}

func pageQuery(limit int, cursor string) url.Values {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

func clientsQuery(cq api.ClientsQuery) url.Values {
	q := pageQuery(cq.Limit, cq.Cursor)
	if cq.Sort != "" {
		q.Set("sort", cq.Sort)
	}
	if cq.Prefix != "" {
		q.Set("prefix", cq.Prefix)
	}
	return q
}

func spendQuery(sq api.SpendQuery, format string) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"client_id": sq.ClientID, "from": sq.From, "to": sq.To, "group_by": sq.GroupBy, "format": format} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// IsNotFound reports an API 404.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}
