package envoy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Envoy's HCM defaults: max_request_headers_count 100, max_request_headers_kb 60.
const (
	maxHeadersCount = 100
	maxHeadersBytes = 60 * 1024
)

// errMutation marks a rejected mutation; Envoy answers status_on_error whatever
// failure_mode_allow says (the "any other error" branch of onReceiveMessage).
var errMutation = errors.New("ext_proc mutation error")

// errSpurious marks a reply of the wrong kind (Envoy's FailedPrecondition).
var errSpurious = errors.New("spurious message")

type checkOp int

const (
	opSet checkOp = iota
	opAppend
	opRemove
)

type checkResult int

const (
	checkOK checkResult = iota
	checkIgnore
)

// routingHeaders may not be changed unless allow_all_routing is set.
var routingHeaders = map[string]bool{"host": true, ":authority": true, ":method": true, ":scheme": true}

// check is Envoy's default mutation_rules Checker (no rules configured):
// disallowed mutations are ignored (disallow_is_error is false).
func check(op checkOp, name, value string) checkResult {
	if op == opRemove && (strings.HasPrefix(name, ":") || name == "host") {
		return checkIgnore // never removable
	}
	if routingHeaders[name] {
		return checkIgnore
	}
	if strings.HasPrefix(name, ":") && op == opAppend {
		return checkIgnore // system headers take one value
	}
	if strings.HasPrefix(name, "x-envoy") {
		return checkIgnore
	}
	if op != opRemove && !validValue(name, value) {
		return checkIgnore
	}
	return checkOK
}

// validValue mirrors Checker::isValidValue.
func validValue(name, value string) bool {
	if !strings.HasPrefix(name, ":") && !validHeaderValue(value) {
		return false
	}
	if name == ":status" {
		code, err := strconv.Atoi(value)
		// Go's ResponseWriter cannot write codes above 999.
		if err != nil || code < 200 || code > 999 {
			return false
		}
	}
	return true
}

// validHeaderName follows HeaderUtility::headerNameIsValid: a non-empty token;
// a leading ':' marks a pseudo-header whose rest must be a lower-case token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	if k[0] == ':' {
		if len(k) == 1 {
			return false
		}
		for i := 1; i < len(k); i++ {
			if !isTokenChar(k[i]) || (k[i] >= 'A' && k[i] <= 'Z') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(k); i++ {
		if !isTokenChar(k[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHeaderValue follows the HTTP/2 field-value rule Envoy uses: HTAB,
// visible ASCII, space and obs-text; no other control characters.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\t' {
			continue
		}
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// applyHeaderMutations is MutationUtils::applyHeaderMutations with the default
// checker. It returns the number of rejected mutations and an errMutation on
// failure (after which the map may be partly mutated, as in Envoy).
func applyHeaderMutations(m *extprocv3.HeaderMutation, h *headerMap, replacing, removeContentLength bool) (int, error) {
	rejected := 0
	if len(m.GetRemoveHeaders()) > maxHeadersCount || len(m.GetSetHeaders()) > maxHeadersCount {
		return 1, fmt.Errorf("%w: header mutation remove count %d or set count %d exceed the limit %d",
			errMutation, len(m.GetRemoveHeaders()), len(m.GetSetHeaders()), maxHeadersCount)
	}
	for _, name := range m.GetRemoveHeaders() {
		if !validHeaderName(name) {
			return rejected + 1, fmt.Errorf("%w: invalid character in remove_headers mutation", errMutation)
		}
		lname := strings.ToLower(name)
		if check(opRemove, lname, "") != checkOK {
			rejected++
			continue
		}
		h.remove(lname)
	}
	for _, sh := range m.GetSetHeaders() {
		hv := sh.GetHeader()
		if hv == nil {
			continue
		}
		if removeContentLength && strings.EqualFold(hv.GetKey(), "content-length") {
			continue // silently skipped when the mode strips content-length
		}
		if hv.GetValue() != "" && len(hv.GetRawValue()) > 0 {
			return rejected + 1, fmt.Errorf("%w: only one of value or raw_value in the HeaderValue message should be set", errMutation)
		}
		// The runtime guard send_header_raw_value is on: value is ignored, so a
		// value-only mutation sets the header to "".
		value := string(hv.GetRawValue())
		if !validHeaderName(hv.GetKey()) || !validHeaderValue(value) {
			return rejected + 1, fmt.Errorf("%w: invalid character in set_headers mutation", errMutation)
		}
		name := strings.ToLower(hv.GetKey())
		// Envoy's mutation_utils.cc reads the deprecated append field and ignores
		// append_action, and the stand-in must behave as Envoy does.
		appendValue := sh.GetAppend().GetValue() //nolint:staticcheck // SA1019: deliberate, see above
		op := opSet
		if appendValue && h.has(name) {
			op = opAppend
		}
		res := check(op, name, value)
		if replacing && name == ":method" {
			res = checkOK // CONTINUE_AND_REPLACE may change the method
		}
		if res != checkOK {
			rejected++
			continue
		}
		if appendValue {
			h.add(name, value)
		} else {
			h.set(name, value)
		}
	}
	if len(h.entries) > maxHeadersCount || h.byteSize() > maxHeadersBytes {
		return rejected + 1, fmt.Errorf("%w: header mutation causes end result header count %d or size %d bytes to exceed the limits",
			errMutation, len(h.entries), h.byteSize())
	}
	return rejected, nil
}

// applyBodyMutation is MutationUtils::applyBodyMutations: body replaces,
// clear_body empties, anything else leaves the data alone.
func applyBodyMutation(m *extprocv3.BodyMutation, data []byte) []byte {
	switch mut := m.GetMutation().(type) {
	case *extprocv3.BodyMutation_Body:
		return append([]byte(nil), mut.Body...)
	case *extprocv3.BodyMutation_ClearBody:
		if mut.ClearBody {
			return nil
		}
	}
	return data
}
