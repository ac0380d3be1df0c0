package usage

import "strconv"

// A usage object comes once per response, but with short streams its
// encoding/json decoding was a visible part of metering one. fastUsage
// decodes the shape OpenAI sends - lower-case keys without escapes, numbers,
// null, and detail objects of the same - into a wireUsage exactly as
// encoding/json would, and declines (false) anything else: then the caller
// lets encoding/json decide, errors included.

// usageKeys and detailKeys name wireUsage's and wireDetails' fields in
// field order.
var (
	usageKeys = [...]string{"prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "total_tokens", "seconds",
		"prompt_tokens_details", "completion_tokens_details", "input_tokens_details", "input_token_details", "output_tokens_details"}
	detailKeys = [...]string{"cached_tokens", "reasoning_tokens", "audio_tokens", "image_tokens", "cache_write_tokens", "cache_creation_tokens"}
)

const firstDetail = 6 // usageKeys[firstDetail:] are detail objects

// usageDecoder reads a usage object into flat counts, which decodeUsage
// then points a wireUsage at: no allocation (a helper storing the pointers
// would make escape analysis move them all to the heap).
type usageDecoder struct {
	b    []byte
	i    int
	nums [firstDetail + (len(usageKeys)-firstDetail)*len(detailKeys)]float64
	set  uint64 // nums present (not null)
	dets uint8  // detail objects present (not null)
}

// detailNum is the index in nums of detailKeys[j] in details object k.
func detailNum(k, j int) int { return firstDetail + k*len(detailKeys) + j }

func fastUsage(raw []byte, d *usageDecoder) bool {
	d.b, d.i, d.set, d.dets = raw, 0, 0, 0
	var seen uint16
	ok := d.objectOf(usageKeys[:], func(k int, null bool) bool {
		if seen&(1<<k) != 0 {
			return false // a repeated key: encoding/json merges; leave it to it
		}
		seen |= 1 << k
		if k < firstDetail {
			return null || d.num(k)
		}
		if null {
			return true
		}
		k -= firstDetail
		d.dets |= 1 << k
		var dseen uint8
		return d.objectOf(detailKeys[:], func(j int, null bool) bool {
			if dseen&(1<<j) != 0 {
				return false
			}
			dseen |= 1 << j
			return null || d.num(detailNum(k, j))
		})
	})
	d.space()
	return ok && d.i == len(d.b)
}

// num reads the number of nums[n].
func (d *usageDecoder) num(n int) bool {
	v, ok := d.number()
	d.nums[n], d.set = v, d.set|1<<n
	return ok
}

// det is details object k when present, read into dets[k].
func (d *usageDecoder) det(dets *[len(usageKeys) - firstDetail]wireDetails, k int) *wireDetails {
	if d.dets&(1<<k) == 0 {
		return nil
	}
	return &dets[k]
}

// ptr is nums[n] when present.
func (d *usageDecoder) ptr(n int) *float64 {
	if d.set&(1<<n) == 0 {
		return nil
	}
	return &d.nums[n]
}

// objectOf reads an object whose known keys are keys; member reads the
// value of keys[k] (null already consumed when null); other members must be
// numbers, null, true or false and are skipped.
func (d *usageDecoder) objectOf(keys []string, member func(k int, null bool) bool) bool {
	d.space()
	if !d.byte('{') {
		return false
	}
	d.space()
	if d.byte('}') {
		return true
	}
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		d.space()
		if !d.byte(':') {
			return false
		}
		d.space()
		k := -1
		for j, name := range keys {
			if string(key) == name {
				k = j
				break
			}
		}
		null := d.literal("null")
		switch {
		case k >= 0:
			if !member(k, null) {
				return false
			}
		case null || d.literal("true") || d.literal("false"):
		default:
			if _, ok := d.number(); !ok {
				return false
			}
		}
		d.space()
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
		d.space()
	}
}

// key reads a key of [a-z0-9_] only: no other key can match a field's name
// under encoding/json's case folding.
func (d *usageDecoder) key() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	from := d.i
	for d.i < len(d.b) && (d.b[d.i] >= 'a' && d.b[d.i] <= 'z' || d.b[d.i] >= '0' && d.b[d.i] <= '9' || d.b[d.i] == '_') {
		d.i++
	}
	key := d.b[from:d.i]
	return key, d.byte('"')
}

// number reads a JSON number as encoding/json does for a float64.
func (d *usageDecoder) number() (float64, bool) {
	from := d.i
	d.byte('-')
	if !d.byte('0') && !d.digits() {
		return 0, false
	}
	if d.byte('.') && !d.digits() {
		return 0, false
	}
	if d.byte('e') || d.byte('E') {
		if !d.byte('+') {
			d.byte('-')
		}
		if !d.digits() {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(d.b[from:d.i]), 64)
	return v, err == nil
}

func (d *usageDecoder) digits() bool {
	from := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > from
}

func (d *usageDecoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

func (d *usageDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *usageDecoder) space() {
	for d.i < len(d.b) && isSpace(d.b[d.i]) {
		d.i++
	}
}
