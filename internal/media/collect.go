package media

import (
	"bytes"
	"math"
	"time"
)

// maxGarbage is how many bytes a frame or page scanner may pass over,
// looking for a header, before its count stops being exact: tags and a
// damaged stretch take a few KiB; more is a stream it does not understand
// (or one made to hide audio from it), measured by size instead.
const maxGarbage = 4 << 10

// maxHeader is the largest header any audio parser gathers: an Ogg page
// header with a full segment table.
const maxHeader = 27 + 255

// collector gathers one header at a time from a stream that arrives in
// arbitrary pieces and passes over the payload between headers, so an audio
// parser holds at most one header whatever the chunking.
type collector struct {
	buf  [maxHeader]byte
	n    int   // bytes gathered into buf
	skip int64 // payload bytes to pass over before gathering again
	// garbage counts bytes passed over looking for a header.
	garbage int64
}

// seek returns p from the next byte a header can start with, nil if none,
// counting what it passes over as garbage.
func (c *collector) seek(p []byte, sync byte) []byte {
	i := bytes.IndexByte(p, sync)
	if i < 0 {
		c.garbage += int64(len(p))
		return nil
	}
	c.garbage += int64(i)
	return p[i:]
}

// suspect reports that more of the seen bytes were garbage than tags or
// damage explain: beyond maxGarbage and 1/64 of the stream.
func (c *collector) suspect(seen int64) bool {
	return c.garbage > max(maxGarbage, seen/64)
}

// pass drops up to c.skip bytes from the front of p and returns how many.
func (c *collector) pass(p []byte) int {
	n := len(p)
	if int64(n) > c.skip {
		n = int(c.skip)
	}
	c.skip -= int64(n)
	return n
}

// gather copies bytes of p into buf until it holds want bytes; it returns
// how many it took and whether buf now holds want.
func (c *collector) gather(p []byte, want int) (int, bool) {
	k := 0
	if c.n < want {
		k = copy(c.buf[c.n:want], p)
		c.n += k
	}
	return k, c.n >= want
}

// resync drops the gathered bytes up to the next one, after the first,
// that a header can start with: they did not make a header.
func (c *collector) resync(sync byte) {
	k := c.n
	if i := bytes.IndexByte(c.buf[1:c.n], sync); i >= 0 {
		k = i + 1
	}
	c.garbage += int64(k)
	c.n = copy(c.buf[:], c.buf[k:c.n])
}

// next clears buf and sets the payload to pass over before the next header.
func (c *collector) next(skip int64) {
	c.n = 0
	c.skip = max(skip, 0)
}

// span is units / perSecond seconds as a Duration, computed without
// overflowing and saturating at the longest Duration (a header may claim
// anything).
func span(units, perSecond uint64) time.Duration {
	if perSecond == 0 {
		return 0
	}
	secs := units / perSecond
	if secs > math.MaxInt64/uint64(time.Second) {
		return math.MaxInt64
	}
	// perSecond < 2^32 (an MP4 timescale at most), so frac*1e9 fits.
	frac := units % perSecond * uint64(time.Second) / perSecond
	d := time.Duration(secs)*time.Second + time.Duration(frac) //nolint:gosec // G115: frac < 1e9, a share of one second; secs is bounded above
	if d < 0 {
		return math.MaxInt64
	}
	return d
}

// unsigned widens a count (samples, a rate, bytes) for the unsigned duration
// arithmetic; counts are never negative, and a negative one would count as 0.
func unsigned[T int | int64](n T) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}
