//go:build race

package usage

// raceEnabled thins the exhaustive split tests under -race, where they are
// ~10x slower and a single goroutine has no races to find.
const raceEnabled = true
