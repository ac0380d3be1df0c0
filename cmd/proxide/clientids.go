package main

import (
	"fmt"
	"strings"

	"github.com/proxide/proxide/internal/clientid"
)

// checkNormalIDs: with client_id.normalize every request's id is in NFKC
// form without invisible or mixed-script characters, so a rule or a key
// binding written another way could never apply — a rule that silently does
// nothing, or a key that can name no client. Each is reported with its key.
func (c Config) checkNormalIDs() []error {
	if !c.ClientID.Normalize {
		return nil
	}
	var errs []error
	check := func(field, v string) {
		if prefix, ok := strings.CutSuffix(v, "*"); ok {
			if !clientid.NormalPrefix(prefix) {
				errs = append(errs, fmt.Errorf("%s: %q is not in normal form (client_id.normalize is on): no client id can match it", field, v))
			}
			return
		}
		if n, err := clientid.Normalize(v); err != nil || n != v {
			errs = append(errs, fmt.Errorf("%s: %q is not a normalised client id (client_id.normalize is on): no request can name it", field, v))
		}
	}
	for i, r := range c.Budgets.Rules {
		if r.ClientID != "" {
			check(fmt.Sprintf("budgets.rules[%d].client_id", i), r.ClientID)
		}
		if r.Match != "" {
			check(fmt.Sprintf("budgets.rules[%d].match", i), r.Match)
		}
	}
	for i, k := range c.Keys {
		for j, id := range k.ClientIDs {
			check(fmt.Sprintf("keys[%d].client_ids[%d]", i, j), id)
		}
	}
	return errs
}
