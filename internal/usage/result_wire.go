package usage

import "strconv"

// A usage object comes once per response, but with short streams its
// encoding/json decoding was a visible part of metering one. fastUsage
// decodes the shape OpenAI sends - lower-case keys without escapes, numbers,
// null, detail objects of the same, other members skipped - into a wireUsage exactly as
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
// would make escape analysis move them all to the heap). The JSON is read by
// fastDec, the request decoder's: its members refuse what encoding/json
// would decode otherwise (a repeated key, a key equal to a field's name only
// case-folded, an escaped key).
type usageDecoder struct {
	nums [firstDetail + (len(usageKeys)-firstDetail)*len(detailKeys)]float64
	set  uint64 // nums present (not null)
	dets uint8  // detail objects present (not null)
}

// detailNum is the index in nums of detailKeys[j] in details object k.
func detailNum(k, j int) int { return firstDetail + k*len(detailKeys) + j }

func fastUsage(raw []byte, d *usageDecoder) bool {
	d.set, d.dets = 0, 0
	fd := &fastDec{b: raw}
	return fd.whole(func() {
		fd.members(usageKeys[:], func(name string) {
			k := nameIndex(usageKeys[:], name)
			if k < firstDetail {
				d.num(fd, k)
				return
			}
			switch fd.peek() {
			case 'n':
				fd.literal("null")
			case '{':
				k -= firstDetail
				d.dets |= 1 << k
				fd.members(detailKeys[:], func(name string) { d.num(fd, detailNum(k, nameIndex(detailKeys[:], name))) })
			default:
				fd.bad = true // encoding/json: a type error
			}
		})
	})
}

// nameIndex is the index of name, one of names (the same string members
// passed on).
func nameIndex(names []string, name string) int {
	for k, n := range names {
		if n == name {
			return k
		}
	}
	return -1
}

// num reads the number (or null) at fd into nums[n].
func (d *usageDecoder) num(fd *fastDec, n int) {
	switch c := fd.peek(); {
	case c == 'n':
		fd.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		from := fd.i
		fd.number()
		if fd.bad {
			return
		}
		v, err := strconv.ParseFloat(string(fd.b[from:fd.i]), 64)
		if err != nil {
			fd.bad = true // out of range: encoding/json's error
			return
		}
		d.nums[n], d.set = v, d.set|1<<n
	default:
		fd.bad = true // encoding/json: a type error
	}
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
