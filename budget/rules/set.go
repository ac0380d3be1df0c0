package rules

import (
	"errors"
	"fmt"
	"sort"
)

// Set resolves the rule of a client id: an exact rule, else the longest matching prefix
// pattern, else the default rule. It is immutable and safe for concurrent use; to change
// the rules build a new Set and swap the pointer (Dynamic does).
type Set struct {
	def   Rule
	all   []Rule          // as given, for All
	exact map[string]Rule // by ClientID
	// byPrefix holds the patterns by prefix length and prefix; lengths lists the lengths
	// present, longest first. Resolve does one map lookup per distinct length (at most
	// 257) instead of scanning every pattern, so thousands of API pattern rules stay cheap.
	byPrefix map[int]map[string]Rule
	lengths  []int
}

// NewSet validates def and rules and builds the resolver. Each rule in rules must set
// exactly one of ClientID or Match; def must set neither. Duplicate ids or patterns are an
// error. All problems are reported together.
func NewSet(def Rule, rules []Rule) (*Set, error) {
	var errs []error
	if err := def.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("default rule: %w", err))
	}
	if def.ClientID != "" || def.Match != "" {
		errs = append(errs, errors.New("default rule: must set neither client_id nor match"))
	}
	rs := &Set{
		def:      def.Clone(),
		all:      make([]Rule, 0, len(rules)),
		exact:    make(map[string]Rule),
		byPrefix: make(map[int]map[string]Rule),
	}
	seenPattern := make(map[string]bool)
	for i, r := range rules {
		name := ruleName(i, r)
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		r = r.Clone()
		switch {
		case r.ClientID != "":
			if _, dup := rs.exact[r.ClientID]; dup {
				errs = append(errs, fmt.Errorf("%s: duplicate client_id", name))
				continue
			}
			rs.exact[r.ClientID] = r
		case r.Match != "":
			if seenPattern[r.Match] {
				errs = append(errs, fmt.Errorf("%s: duplicate match pattern", name))
				continue
			}
			seenPattern[r.Match] = true
			prefix := r.Match[:len(r.Match)-1]
			if rs.byPrefix[len(prefix)] == nil {
				rs.byPrefix[len(prefix)] = make(map[string]Rule)
				rs.lengths = append(rs.lengths, len(prefix))
			}
			rs.byPrefix[len(prefix)][prefix] = r
		default:
			errs = append(errs, fmt.Errorf("%s: set client_id or match", name))
			continue
		}
		rs.all = append(rs.all, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Longest prefix first, so the first match in Resolve is the most specific one.
	sort.Sort(sort.Reverse(sort.IntSlice(rs.lengths)))
	return rs, nil
}

func ruleName(i int, r Rule) string {
	switch {
	case r.ClientID != "":
		return fmt.Sprintf("rules[%d] (client_id %q)", i, r.ClientID)
	case r.Match != "":
		return fmt.Sprintf("rules[%d] (match %q)", i, r.Match)
	}
	return fmt.Sprintf("rules[%d]", i)
}

// Resolve returns the rule that applies to clientID: exact > longest prefix > default.
// The returned rule is a copy the caller may keep.
func (r *Set) Resolve(clientID string) Rule {
	if rule, ok := r.exact[clientID]; ok {
		return rule.Clone()
	}
	for _, n := range r.lengths {
		if n > len(clientID) {
			continue
		}
		if rule, ok := r.byPrefix[n][clientID[:n]]; ok {
			return rule.Clone()
		}
	}
	return r.def.Clone()
}

// Default returns the default rule.
func (r *Set) Default() Rule { return r.def.Clone() }

// All returns the non-default rules in the order they were given (copies).
func (r *Set) All() []Rule {
	out := make([]Rule, len(r.all))
	for i, rule := range r.all {
		out[i] = rule.Clone()
	}
	return out
}
