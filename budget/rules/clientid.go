package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxClientIDBytes is the longest accepted client id, in bytes.
const MaxClientIDBytes = 256

// ValidClientID reports why id is not a valid client id, or nil: it must be 1–256 bytes of
// valid UTF-8 without control characters. Shared by the gateway, the ledger and the admin
// API.
func ValidClientID(id string) error {
	if id == "" {
		return errors.New("client id is empty")
	}
	if len(id) > MaxClientIDBytes {
		return fmt.Errorf("client id is %d bytes, at most %d allowed", len(id), MaxClientIDBytes)
	}
	return ValidText(id, "client id")
}

// ValidText reports invalid UTF-8 or a control character in s, which what names.
func ValidText(s, what string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for i, c := range s {
		if unicode.IsControl(c) {
			return fmt.Errorf("%s has a control character at byte %d", what, i)
		}
	}
	return nil
}

// validPattern checks a prefix pattern: a valid client-id prefix followed by one "*".
func validPattern(p string) error {
	prefix, ok := strings.CutSuffix(p, "*")
	if !ok {
		return fmt.Errorf("pattern %q must end in a trailing \"*\"", p)
	}
	if strings.Contains(prefix, "*") {
		return fmt.Errorf("pattern %q may contain only one \"*\", at the end", p)
	}
	if len(prefix) > MaxClientIDBytes {
		return fmt.Errorf("pattern prefix is %d bytes, at most %d allowed", len(prefix), MaxClientIDBytes)
	}
	return ValidText(prefix, "pattern")
}

func itoa(i int) string { return strconv.Itoa(i) }
