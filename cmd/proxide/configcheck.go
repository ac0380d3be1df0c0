package main

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/auth"
)

// A config is checked in one pass: what the decoder could not read (unknown
// keys — a top-level typo like "pricng" too —, wrong types, durations without
// a unit), what Validate finds, and what building the rules, keys, time zone
// and prices finds, every problem with its full key path.

var durationType = reflect.TypeFor[time.Duration]()

// durationHook decodes durations from strings with a unit ("60s", "5m"). A
// bare number is refused with a hint: `window: 60` would otherwise be read
// as 60 nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("%v has no unit: write %vs for seconds (units: ms, s, m, h)", data, data)
	case reflect.String:
		s := strings.TrimSpace(data.(string)) //nolint:forcetypeassert // the kind is string
		d, err := time.ParseDuration(s)
		if err == nil {
			return d, nil
		}
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return nil, fmt.Errorf("%q has no unit: write %ss for seconds (units: ms, s, m, h)", s, s)
		}
		return nil, fmt.Errorf("%q is not a duration like 500ms, 60s, 5m or 2h", s)
	default:
		return data, nil
	}
}

var invalidKeys = regexp.MustCompile(`^has invalid keys: (.+)$`)

// decodeProblems flattens the decoder's error into one "key.path: problem"
// per problem, and returns the key paths that failed.
func decodeProblems(err error) (problems []error, failed []string) {
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		de, ok := err.(*mapstructure.DecodeError) //nolint:errorlint // one level at a time: the wrappers are walked below
		if !ok {
			if inner := errors.Unwrap(err); inner != nil {
				walk(inner) // "decoding failed due to the following error(s)"
				return
			}
			problems = append(problems, err)
			return
		}
		inner := de.Unwrap()
		if _, ok := inner.(interface{ Unwrap() []error }); ok {
			walk(inner)
			return
		}
		if m := invalidKeys.FindStringSubmatch(inner.Error()); m != nil {
			for _, k := range strings.Split(m[1], ", ") {
				path := k
				if de.Name() != "" {
					path = de.Name() + "." + k
				}
				msg := path + ": unknown key"
				if s := closestKey(de.Name(), k); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", s)
				}
				problems = append(problems, errors.New(msg))
			}
			return
		}
		problems = append(problems, fmt.Errorf("%s: %w", de.Name(), inner))
		failed = append(failed, de.Name())
	}
	walk(err)
	return problems, failed
}

// closestKey suggests the known key at path nearest to k (one or two edits).
func closestKey(path, k string) string {
	t := reflect.TypeFor[Config]()
	if path != "" {
		for _, seg := range strings.Split(path, ".") {
			name, _, _ := strings.Cut(seg, "[")
			t = fieldType(t, name)
			if t == nil {
				return ""
			}
		}
	}
	best, bestD := "", 3
	for _, c := range structKeys(t) {
		if d := editDistance(strings.ToLower(k), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map) {
		t = t.Elem()
	}
	return t
}

func structKeys(t reflect.Type) []string {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("mapstructure"), ","); tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

func fieldType(t reflect.Type, key string) reflect.Type {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("mapstructure"), ","); tag == key {
			return t.Field(i).Type
		}
	}
	return nil
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// withoutFailed drops the problems Validate reports for keys the decoder
// already could not read (and for their section as a whole): the zero value
// left there is not the user's.
func withoutFailed(errs []error, failed []string) []error {
	if len(failed) == 0 {
		return errs
	}
	out := errs[:0:0]
	for _, e := range errs {
		key, _, _ := strings.Cut(e.Error(), ":")
		if slices.ContainsFunc(failed, func(f string) bool { return f == key || strings.HasPrefix(f, key+".") }) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// checkBuild runs the checks newApp makes when it builds the rules, keys,
// time zone and prices, so that `proxide serve` reports them with the rest.
func (c Config) checkBuild() []error {
	var errs []error
	if _, err := buildPricer(c.Pricing); err != nil {
		errs = append(errs, err)
	}
	if _, err := buildRules(c.Budgets); err != nil {
		errs = append(errs, err)
	}
	if _, err := budget.NewCalendar(c.Budgets.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("budgets.timezone: %w", err))
	}
	specs := make([]auth.KeySpec, 0, len(c.Keys))
	for _, k := range c.Keys {
		specs = append(specs, auth.KeySpec{Name: k.Name, SHA256: k.SHA256, Key: k.Key, Scopes: k.Scopes, ClientIDs: k.ClientIDs})
	}
	if _, err := auth.NewKeys(specs); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// unjoin splits a joined error into its parts (one line each when printed).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
