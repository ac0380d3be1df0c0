// Package loop detects runaway clients: agents that send the same or nearly
// the same request again and again (DESIGN.md §1 "Loop detected").
//
// # Pipeline
//
// usage.ParseRequest already decodes the body once; it also fills
// Request.Digest (an exact digest of the canonical request) and Request.Tail
// (the last items of the conversation, bounded). Compute turns those into a
// fixed-size Signature without allocating; Window.Observe keeps one client's
// recent signatures and says whether the new request completes a loop. The
// memory ledger keeps a Window per client; the Redis ledger keeps its
// encoding under one key and runs window.lua (WindowLua) inside its reserve
// script. Both make the same decisions (TestLuaParity runs them side by side
// on a real redis-server).
//
// # Signature
//
// Exact is the request digest: the same request sent again. It ignores
// sampling, transport and bookkeeping fields (see usage/digest.go), so a retry
// that bumps the temperature or a seed is still the same request.
//
// Sim fingerprints the meaningful tail: the last exchange of the
// conversation, i.e. the run of input items at the end (user messages, tool
// results) and the assistant items next to it (its text, or its tool calls
// with name and arguments; prose beside a tool call is dropped, being sampling
// noise). The task message and the older turns, identical in every request of
// a session, are left out, so a growing conversation whose tail repeats the
// same call and the same error is caught while a long chat with a big shared
// system prompt is not. System and developer text counts only when there is
// nothing else.
//
// Text is normalised before hashing: lower-cased words; a number of 4+
// digits, a letters-and-digits id of 8+ bytes, a hex id, a number with unit
// letters (250ms, 5m12s, 3rd) or a number after a counter word ("Attempt 7",
// "retry #3") becomes one placeholder token; so does a whole numeric group
// (ISO timestamps, dates, times, UUIDs, versions, IPs). Small plain numbers
// stay, because "page 2" and "3 failed" carry meaning. Each token is salted
// with the model and the item kind (prose, call, output, media).
//
// Technique: a 64-bit parity sketch of the token multiset. Each token (its
// k-th occurrence being a token of its own) toggles one bit chosen by its
// hash; tokens of tool calls and results toggle two bits (a change in
// machine output is a change of state), an image or file four. The XOR of two
// sketches is the sketch of their symmetric difference, so its popcount h
// counts differing tokens exactly while they are few, and a table inverts the
// expected collisions: d = ln(1-h/32)/ln(31/32) (h >= 32: unrelated).
//
//	Similarity = 1 - d / (1.5 × min(mean size, 64))      (1 for equal digests)
//
// 1.5 is the mean number of differing features per edited word (a replaced
// word changes 2, an inserted or deleted one 1), so Similarity reads as "the
// share of words left unedited", over at most 64 words: the default 0.9
// tolerates about one edited word in ten, and at most ~6 edited words however
// long the tail. Tails under MinSize (8) weighted tokens ("OK") only match
// exactly.
//
// Why not SimHash or MinHash: both estimate a ratio (angle, Jaccard) with a
// standard error near 0.05 at 64 bits, right where the 0.9 threshold sits,
// and a ratio lets a long shared template hide a different input (a
// few-shot evaluation differing in a 15-word question is 90% "the same").
// "Nearly the same" is an absolute property — a few tokens differ — which the
// parity sketch measures almost exactly for small differences, deterministically,
// at one XOR per token, and compares with two popcounts in Lua.
//
// # Window
//
// Per client, at most MaxEntries (32) signatures younger than Window. A
// request is a loop when at least MaxRepeats earlier ones are exact or
// similar (>= Similarity) to it ("exact" when that many are exact, else
// "similar"), or when it completes a run of MaxRepeats+1 requests repeating
// with period 2 or 3, each alike the one 2 or 3 before ("cycle": A,B,A,B…
// and A,B,C,A,B,C…, caught at the 6th request of the cycle with the defaults,
// as early as an identical repeat, instead of the 11th or 16th by counting). On a loop the window is emptied and the
// client is in cooldown for Cooldown: Observe returns Loop with Cooldown set
// and records nothing, so blocked requests (which never reach OpenAI) do not
// keep the loop alive, and after the cooldown the client starts afresh.
//
// # Thresholds
//
// The defaults (60s, 5, 0.9, 5m) are DESIGN.md's. The internal constants
// (SimScale 64, BitsPerEdit 1.5, MinSize 8, the token weights) were chosen on
// the tuning half of the corpus (go run ./internal/loop/cmd/loopreport -sweep) and
// are reported on the held-out half; README.md has the numbers and the
// known blind spots.
package loop
