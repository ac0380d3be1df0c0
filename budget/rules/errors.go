package rules

import (
	"errors"
	"fmt"
)

// FieldError is one problem with one field of a rule, named as in the config file and the
// admin API: "daily_limit_usd", "alert_thresholds[1]", "loop_detection.window". Validate
// and Spec.Rule join them; errors.As finds the first.
type FieldError struct {
	// Field is the key of the field, "" when the problem is not about one field.
	Field string
	// Msg says what is wrong, without the field.
	Msg string
}

// Error is "field: msg", or msg alone without a field.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// FieldErrors lists the *FieldError leaves of err in order (errors.Join trees are
// flattened); an error that is not one becomes a FieldError without a field.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, FieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Msg: err.Error()}}
}

// Within prefixes every problem of err with where the rule sits in a bigger document,
// "budgets.rules[3]: action: …", keeping them joined (errors.As still finds each
// FieldError); nil stays nil.
func Within(parent string, err error) error {
	fes := FieldErrors(err)
	if len(fes) == 0 {
		return nil
	}
	out := make([]error, len(fes))
	for i, fe := range fes {
		out[i] = fmt.Errorf("%s: %w", parent, fe)
	}
	return errors.Join(out...)
}
