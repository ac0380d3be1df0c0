package pricing

import "strings"

// find resolves model without copying; the result shares t's tier pointers
// and maps and must not be handed out. The rules are in the package doc.
func (t *Table) find(model string) (Price, bool) {
	if t == nil {
		return Price{}, false
	}
	name := strings.TrimSpace(model)
	if p, ok := t.prices[name]; ok { // the hot path: no allocation
		return p, true
	}
	if p, ok := t.resolveBare(name); ok {
		return p, true
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			if p, ok := t.resolveBare(name[i+1:]); ok {
				return p, true
			}
		}
	}
	return Price{}, false
}

// get is an exact lookup that ignores case.
func (t *Table) get(name string) (Price, bool) {
	if p, ok := t.prices[name]; ok {
		return p, true
	}
	if k, ok := t.lower[strings.ToLower(name)]; ok {
		return t.prices[k], true
	}
	return Price{}, false
}

// resolveBare applies the exact, fine-tune and undated rules to one name.
func (t *Table) resolveBare(name string) (Price, bool) {
	if len(name) > 3 && strings.EqualFold(name[:3], "ft:") {
		// OpenAI bills fine-tuned inference at the fine-tune price of the
		// base model, which LiteLLM lists as "ft:BASE" or, for most models,
		// only under the dated snapshot that can be fine-tuned; the base
		// model's own price is the last resort.
		base, _, _ := strings.Cut(name[3:], ":")
		if base == "" {
			return Price{}, false
		}
		if p, ok := t.get("ft:" + base); ok {
			return p, true
		}
		if u, ok := undated(base); ok {
			if p, ok := t.get("ft:" + u); ok {
				return p, true
			}
		} else if k, ok := t.ftLatest[strings.ToLower("ft:"+base)]; ok {
			return t.prices[k], true
		}
		return t.undatedOrExact(base)
	}
	return t.undatedOrExact(name)
}

func (t *Table) undatedOrExact(name string) (Price, bool) {
	if name == "" {
		return Price{}, false
	}
	if p, ok := t.get(name); ok {
		return p, true
	}
	if u, ok := undated(name); ok {
		if p, ok := t.get(u); ok {
			return p, true
		}
	}
	return Price{}, false
}

// undated strips a trailing "-YYYY-MM-DD" or "-MMDD" snapshot suffix.
func undated(name string) (string, bool) {
	n := len(name)
	if n > 11 && name[n-11] == '-' && digits(name[n-10:n-6]) && name[n-6] == '-' &&
		digits(name[n-5:n-3]) && name[n-3] == '-' && digits(name[n-2:]) {
		return name[:n-11], true
	}
	if n > 5 && name[n-5] == '-' && digits(name[n-4:]) {
		return name[:n-5], true
	}
	return "", false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
