package rules

import (
	"cmp"
	"slices"
	"strings"
)

// Key addresses one rule: exactly one of ClientID, Match, or Default.
type Key struct {
	ClientID, Match string
	Default         bool
}

// Key returns the key of r, derived from ClientID and Match; with neither it is the
// default rule's key. A rule with both set (invalid) is keyed by its ClientID.
func (r Rule) Key() Key {
	switch {
	case r.ClientID != "":
		return Key{ClientID: r.ClientID}
	case r.Match != "":
		return Key{Match: r.Match}
	}
	return Key{Default: true}
}

const (
	clientKeyPrefix = "client:"
	matchKeyPrefix  = "match:"
	defaultKeyName  = "default"
)

// String returns "client:<id>", "match:<pattern>" or "default" ("" for the zero key).
// ParseKey reverses it.
func (k Key) String() string {
	switch {
	case k.Default:
		return defaultKeyName
	case k.ClientID != "":
		return clientKeyPrefix + k.ClientID
	case k.Match != "":
		return matchKeyPrefix + k.Match
	}
	return ""
}

// ParseKey parses the form String returns. A malformed key is a *FieldError (its field is
// client_id or match when the part after the prefix is the problem).
func ParseKey(s string) (Key, error) {
	var k Key
	switch {
	case s == defaultKeyName:
		k.Default = true
	case strings.HasPrefix(s, clientKeyPrefix):
		k.ClientID = s[len(clientKeyPrefix):]
	case strings.HasPrefix(s, matchKeyPrefix):
		k.Match = s[len(matchKeyPrefix):]
	default:
		return Key{}, fieldErr("", "rule key %q: want client:<id>, match:<pattern> or default", truncate(s, 64))
	}
	if err := k.Validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Validate checks that exactly one part of k is set, and set to something valid; the
// problem is a *FieldError.
func (k Key) Validate() error {
	n := 0
	for _, set := range []bool{k.Default, k.ClientID != "", k.Match != ""} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return fieldErr("", "set exactly one of client_id, match or default")
	case k.ClientID != "":
		if err := ValidClientID(k.ClientID); err != nil {
			return fieldErr("client_id", "%v", err)
		}
	case k.Match != "":
		if err := validPattern(k.Match); err != nil {
			return fieldErr("match", "%v", err)
		}
	}
	return nil
}

// kindRank orders the kinds of keys: the default rule, then patterns, then client ids.
func (k Key) kindRank() int {
	switch {
	case k.Default:
		return 0
	case k.Match != "":
		return 1
	}
	return 2
}

// Compare is the one order of rules everywhere they are listed (the store, the effective
// set, the admin API's pages): the default rule first, then patterns, then client ids,
// each group by key string.
func Compare(a, b Key) int {
	if c := cmp.Compare(a.kindRank(), b.kindRank()); c != 0 {
		return c
	}
	return strings.Compare(a.String(), b.String())
}

// Sort orders rs by their keys (see Compare).
func Sort(rs []Rule) {
	slices.SortFunc(rs, func(a, b Rule) int { return Compare(a.Key(), b.Key()) })
}
