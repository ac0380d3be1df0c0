package configs

import (
	"errors"
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// WantEscapedSlashes is the path_with_escaped_slashes_action every shipped
// connection manager in front of Proxide uses.
const WantEscapedSlashes = hcmv3.HttpConnectionManager_REJECT_REQUEST

// CheckPathHandling requires every connection manager that runs the ext_proc
// filter to normalise paths before any filter sees them: normalize_path and
// merge_slashes on, escaped slashes (%2F, %5C) rejected with 400.
//
// This is defence in depth. Proxide canonicalises paths itself (package
// endpoints) and refuses ambiguous ones, so a path trick cannot make a paid
// call look free to it; but Envoy's router matches and rewrites the raw
// path, and when the two read a path differently a request can be routed
// where Proxide did not expect. Normalising in Envoy keeps the router, the
// sidecar and OpenAI looking at one path.
func CheckPathHandling(bs *bootstrapv3.Bootstrap) error {
	var errs []error
	for _, l := range bs.GetStaticResources().GetListeners() {
		h, err := HCM(l)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := ExtProc(h); err != nil {
			continue // no ext_proc: nothing Proxide meters goes through it
		}
		if err := CheckHCMPathHandling(h); err != nil {
			errs = append(errs, fmt.Errorf("listener %q: %w", l.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// CheckHCMPathHandling checks one connection manager (see CheckPathHandling).
func CheckHCMPathHandling(h *hcmv3.HttpConnectionManager) error {
	var errs []error
	if !h.GetNormalizePath().GetValue() {
		errs = append(errs, errors.New("normalize_path must be true"))
	}
	if !h.GetMergeSlashes() {
		errs = append(errs, errors.New("merge_slashes must be true"))
	}
	if a := h.GetPathWithEscapedSlashesAction(); a != WantEscapedSlashes {
		errs = append(errs, fmt.Errorf("path_with_escaped_slashes_action is %s, want %s", a, WantEscapedSlashes))
	}
	return errors.Join(errs...)
}
