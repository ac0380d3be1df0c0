package loop

import (
	"github.com/proxide/proxide/internal/usage"
)

// Signature identifies a request for loop detection. It is fixed-size (18
// bytes of data) because one is stored per recent request and client.
type Signature struct {
	// Exact is usage.Request.Digest: equal for the same canonical request
	// sent again; 0 when unknown (never matches).
	Exact uint64
	// Sim is the 64-bit parity sketch of the normalised meaningful tail
	// (see doc.go); the popcount of a XOR of two counts differing tokens.
	Sim uint64
	// Size is the number of tokens in Sim, weighted (saturates at 65535).
	// Similarity is relative to it for short tails and gated by MinSize.
	Size uint16
}

// Similarity constants; see doc.go for their derivation.
const (
	// SimScale caps the token count a difference is measured against: past
	// SimScale tokens, similarity depends only on the number of edited
	// words, so a long shared template cannot hide a different input. With
	// the default similarity 0.9 that is at most 9 differing sketch bits,
	// about 6 edited words.
	SimScale = 64
	// BitsPerEdit converts differing sketch bits into edited words: a
	// replaced word toggles 2 features (the old one and the new one), an
	// inserted or deleted word 1, so 1.5 on average. With it, Similarity
	// reads as the share of words left unedited.
	BitsPerEdit = 1.5
	// MinSize is the smallest Size whose sketch is trusted: tails shorter
	// than that ("OK", "Done.") carry too little to call two requests
	// similar, so they only match exactly.
	MinSize = 8
)

// Token weights by item kind: a token of machine output (tool calls, their
// arguments and results) toggles more bits than a token of prose, because a
// change there is a change of state (another file, another test count),
// while prose is sampled text whose wording drifts even when the agent is
// stuck. A media item is one opaque token worth several words.
const (
	weightProse   = 1
	weightMachine = 2
	weightMedia   = 4
)

// Salts keep the same word in different roles apart.
const (
	saltProse  = 0x243f6a8885a308d3
	saltCall   = 0x13198a2e03707344
	saltOutput = 0xa4093822299f31d0
	saltMedia  = 0x082efa98ec4e6c89
	saltCut    = 0x452821e638d01377
)

// Compute returns the signature of a parsed request: Exact from its digest,
// Sim and Size from its meaningful tail (see Tail), normalised so that
// numbers, ids, UUIDs, timestamps, dates and counters ("Attempt 7") do not
// count as differences. It reads only r.Digest, r.Model and r.Tail, and does
// not allocate.
func Compute(r usage.Request) Signature {
	k := newSketcher()
	defer k.release()
	model := mix(hashLower(r.Model))
	lo, hi, skipProse, keepSystem := tailRange(r.Tail)
	for i := lo; i < hi; i++ {
		it := &r.Tail[i]
		if !keepSystem && skipRole(it.Role) {
			continue
		}
		switch it.Kind {
		case usage.KindCall:
			k.salt, k.weight = model^saltCall, weightMachine
			k.token(hashLower(it.Name))
		case usage.KindOutput:
			k.salt, k.weight = model^saltOutput, weightMachine
		case usage.KindMedia:
			k.salt, k.weight = model^saltMedia, weightMedia
			k.token(hashLower(it.Text))
			continue
		default:
			if skipProse && it.Role == "assistant" {
				continue
			}
			k.salt, k.weight = model^saltProse, weightProse
		}
		k.plain = false
		k.text(it.Text)
		if cut := it.Size - len(it.Text) + len(usage.TailCut); it.Size > len(it.Text) {
			// A bounded text hides its middle: its length, to 64 bytes, is
			// all that is left to tell two long texts apart.
			k.salt = model ^ saltCut
			k.token(uint64(cut >> 6)) //nolint:gosec // G115: cut > len(TailCut) > 0 here, since Size > len(Text)
		}
	}
	return Signature{Exact: r.Digest, Sim: k.bits, Size: clampUint16(k.size)}
}

// tailRange selects the meaningful tail: the last exchange of the
// conversation. Going back from the end it takes the run of input items
// (user, tool results) and the run of assistant items next to it, so a
// looping agent's [assistant call, tool error] pair is compared whole while
// the task message and older turns, the same in every request of a session,
// are left out. System and developer items are skipped (keepSystem false)
// unless there is nothing else. skipProse is true when the assistant run
// holds tool calls: then its prose is sampling noise next to the calls, and
// is left out too.
func tailRange(tail []usage.TailItem) (lo, hi int, skipProse, keepSystem bool) {
	hi = len(tail)
	runs, prevAssistant := 0, false
	lo = hi
	for i := hi - 1; i >= 0; i-- {
		it := &tail[i]
		if skipRole(it.Role) {
			if lo == hi { // trailing system items: keep looking
				continue
			}
			break
		}
		assistant := it.Role == "assistant"
		if lo == hi || assistant != prevAssistant {
			if runs == 2 {
				break
			}
			runs++
			prevAssistant = assistant
		}
		if assistant && it.Kind == usage.KindCall {
			skipProse = true
		}
		lo = i
	}
	if lo == hi { // only system items, or none
		return 0, len(tail), false, true
	}
	return lo, hi, skipProse, false
}

func skipRole(role string) bool { return role == "system" || role == "developer" }

// Similarity returns how alike two requests are, from 0 to 1: 1 for the same
// exact digest; else 1 - d/(BitsPerEdit*min(mean size, SimScale)), the share
// of (weighted, normalised) words not edited, where d is the number of
// differing features estimated from the differing sketch bits, floored at 0;
// and 0 when either tail is smaller than MinSize.
func Similarity(a, b Signature) float64 {
	if a.Exact != 0 && a.Exact == b.Exact {
		return 1
	}
	return sketchSimilarity(a, b)
}

// sketchSimilarity is Similarity without the exact match; window.lua
// computes it with the same float64 operations in the same order.
func sketchSimilarity(a, b Signature) float64 {
	if a.Size < MinSize || b.Size < MinSize {
		return 0
	}
	h := distance(a.Sim, b.Sim)
	if h >= len(differing) {
		return 0
	}
	den := min(float64(int(a.Size)+int(b.Size))/2, SimScale) * BitsPerEdit
	s := 1 - differing[h]/den
	return max(s, 0)
}

// differing[h] estimates how many features two sketches differ by when h of
// their 64 bits differ. d toggles in random buckets leave a bucket odd with
// probability (1-(31/32)^d)/2, so h is about 32(1-(31/32)^d): d is
// ln(1-h/32)/ln(31/32), rounded to 3 decimals so that window.lua's copy of
// the table parses to the same float64s. From 32 bits on the texts are
// unrelated.
var differing = [32]float64{0, 1, 2.033, 3.101, 4.206, 5.351, 6.54, 7.775, 9.061, 10.402, 11.802, 13.267, 14.804, 16.419, 18.122, 19.923, 21.832, 23.865, 26.038, 28.372, 30.894, 33.634, 36.636, 39.955, 43.665, 47.87, 52.726, 58.468, 65.497, 74.558, 87.329, 109.162}
