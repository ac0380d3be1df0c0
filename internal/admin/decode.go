package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/proxide/proxide/budget/rules"
)

// MaxBodyBytes bounds a request body; a larger one is refused with 413.
const MaxBodyBytes = 1 << 20

// errBodyTooLarge is answered with 413.
var errBodyTooLarge = fmt.Errorf("request body is larger than %d bytes", MaxBodyBytes)

// decodeBody reads exactly one JSON object into v, refusing unknown fields,
// fields whose names match only case-insensitively and repeated keys
// (strictKeys), and turns every decoding problem into a FieldError naming the
// field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return bodyError(err)
	}
	if err := strictKeys(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	// Anything after the object (a second object, garbage) is malformed too.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return fieldErr("", "malformed JSON: the body must hold exactly one JSON object")
	}
	return nil
}

func bodyError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		field    *rules.FieldError
	)
	switch {
	case errors.As(err, &field): // from a type's own UnmarshalJSON
		return field
	case errors.As(err, &tooLarge):
		return errBodyTooLarge
	case errors.Is(err, io.EOF):
		return fieldErr("", "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErr("", "malformed JSON: unexpected end of the body")
	case errors.As(err, &syntax):
		return fieldErr("", "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fieldErr("", "the request body must be a JSON object, not %s", typ.Value)
		}
		if strings.HasPrefix(typ.Value, "number ") {
			if f, err := strconv.ParseFloat(strings.TrimPrefix(typ.Value, "number "), 64); err == nil &&
				strings.HasPrefix(typ.Type.Kind().String(), "int") && f != math.Trunc(f) {
				return fieldErr(typ.Field, "expected an integer, got %s", typ.Value)
			}
			return fieldErr(typ.Field, "%s is out of range", typ.Value)
		}
		return fieldErr(typ.Field, "expected %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	}
	if name, ok := rules.UnknownJSONField(err); ok {
		return fieldErr(name, "unknown field")
	}
	return fieldErr("", "malformed JSON: %v", err)
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "float64", "float32", "int", "int64", "int32":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "ptr":
		return "a value"
	case "struct", "map":
		return "an object"
	}
	return kind
}
