package rules

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// UnmarshalJSON refuses unknown fields inside loop_detection and names them with their
// path (loop_detection.action): encoding/json reports an unknown field by its bare name.
// Type errors need nothing here: the outer decoder adds the path to them.
func (l *LoopSpec) UnmarshalJSON(b []byte) error {
	type plain LoopSpec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		if name, ok := UnknownJSONField(err); ok {
			return fieldErr("loop_detection."+name, "unknown field")
		}
		return err
	}
	*l = LoopSpec(p)
	return nil
}

// UnknownJSONField returns the field a json.Decoder with DisallowUnknownFields refused.
// encoding/json has no error type for it, only the text `json: unknown field "x"`, so
// this is the one place that reads it.
func UnknownJSONField(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	if name, uerr := strconv.Unquote(rest); uerr == nil {
		return name, true
	}
	return rest, true
}
