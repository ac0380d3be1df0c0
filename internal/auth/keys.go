// Package auth checks Proxide API keys. Keys are configured as SHA-256 hashes so
// a leaked config file does not leak usable credentials; presented keys are
// hashed and compared in constant time against every configured hash.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Scopes a key can hold.
const (
	ScopeGateway = "gateway" // may send LLM traffic through the gateway
	ScopeAdmin   = "admin"   // may use the admin API
)

// Sentinel errors; callers map them to 401 and 403.
var (
	ErrMissingKey   = errors.New("auth: missing API key")
	ErrUnknownKey   = errors.New("auth: unknown API key")
	ErrMissingScope = errors.New("auth: key lacks the required scope")
)

// KeySpec is one configured key: its SHA-256 (hex) or, for development only,
// the plain key.
type KeySpec struct {
	Name   string
	SHA256 string
	Key    string
	Scopes []string
	// ClientIDs, when set, are the only client ids the key may speak for:
	// exact ids and "prefix*" patterns. Empty: any client id.
	ClientIDs []string
}

// Key is an authenticated caller.
type Key struct {
	Name      string
	Scopes    []string
	ClientIDs []string
}

// Has reports whether the key holds scope.
func (k Key) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }

// Allows reports whether the key may speak for clientID: a key bound to client
// ids matches one of them exactly or one of its "prefix*" patterns; a key
// without the list may name any client. A leaked tenant key so cannot rotate
// ids to get a fresh default budget each time.
func (k Key) Allows(clientID string) bool {
	if len(k.ClientIDs) == 0 {
		return true
	}
	for _, p := range k.ClientIDs {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(clientID, prefix) {
				return true
			}
		} else if p == clientID {
			return true
		}
	}
	return false
}

type entry struct {
	hash [sha256.Size]byte
	key  Key
}

// Keys is an immutable set of configured keys, safe for concurrent use.
type Keys struct {
	entries []entry
}

// NewKeys validates the specs and returns the key set. Every problem is reported.
func NewKeys(specs []KeySpec) (*Keys, error) {
	var errs []error
	ks := &Keys{}
	seen := map[[sha256.Size]byte]string{}
	for i, s := range specs {
		where := fmt.Sprintf("keys[%d]", i)
		if s.Name != "" {
			where = fmt.Sprintf("keys[%d] (%s)", i, s.Name)
		}
		var h [sha256.Size]byte
		switch {
		case s.SHA256 != "" && s.Key != "":
			errs = append(errs, fmt.Errorf("%s: set sha256 or key, not both", where))
			continue
		case s.SHA256 != "":
			raw, err := hex.DecodeString(strings.TrimSpace(s.SHA256))
			if err != nil || len(raw) != sha256.Size {
				errs = append(errs, fmt.Errorf("%s: sha256 must be 64 hex characters", where))
				continue
			}
			copy(h[:], raw)
		case s.Key != "":
			h = sha256.Sum256([]byte(s.Key))
		default:
			errs = append(errs, fmt.Errorf("%s: sha256 is required", where))
			continue
		}
		if len(s.Scopes) == 0 {
			errs = append(errs, fmt.Errorf("%s: scopes must list %q and/or %q", where, ScopeGateway, ScopeAdmin))
		}
		for _, sc := range s.Scopes {
			if sc != ScopeGateway && sc != ScopeAdmin {
				errs = append(errs, fmt.Errorf("%s: unknown scope %q (want %q or %q)", where, sc, ScopeGateway, ScopeAdmin))
			}
		}
		for j, p := range s.ClientIDs {
			if prefix, wild := strings.CutSuffix(p, "*"); p == "" || p == "*" || strings.Contains(prefix, "*") || (!wild && strings.TrimSpace(p) != p) {
				errs = append(errs, fmt.Errorf("%s: client_ids[%d]: %q must be a client id or a \"prefix*\" pattern", where, j, p))
			}
		}
		if other, dup := seen[h]; dup {
			errs = append(errs, fmt.Errorf("%s: same key as %s", where, other))
		}
		seen[h] = where
		ks.entries = append(ks.entries, entry{hash: h, key: Key{Name: s.Name, Scopes: slices.Clone(s.Scopes), ClientIDs: slices.Clone(s.ClientIDs)}})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ks, nil
}

// Enabled reports whether any key is configured. With none, Proxide runs open
// (development only) and says so loudly at start-up.
func (k *Keys) Enabled() bool { return k != nil && len(k.entries) > 0 }

// Hash returns the hex SHA-256 of a key, as written into the config.
func Hash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// BearerToken extracts the token of an "Authorization: Bearer …" value.
func BearerToken(header string) (string, bool) {
	const prefix = "bearer "
	header = strings.TrimSpace(header)
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(header[len(prefix):])
	return tok, tok != ""
}

// Authenticate checks an Authorization header value and the scope it needs.
// It compares against every configured hash so timing does not reveal which
// key matched or how many there are.
func (k *Keys) Authenticate(authorization, scope string) (Key, error) {
	tok, ok := BearerToken(authorization)
	if !ok {
		return Key{}, ErrMissingKey
	}
	h := sha256.Sum256([]byte(tok))
	found := -1
	for i := range k.entries {
		if subtle.ConstantTimeCompare(h[:], k.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Key{}, ErrUnknownKey
	}
	key := k.entries[found].key
	if !key.Has(scope) {
		return key, fmt.Errorf("%w: key %q needs scope %q", ErrMissingScope, key.Name, scope)
	}
	return key, nil
}
