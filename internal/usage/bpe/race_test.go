//go:build race

package bpe

// raceEnabled thins the exhaustive comparisons under -race, where they are
// ~10x slower and a single goroutine has no races to find.
const raceEnabled = true
