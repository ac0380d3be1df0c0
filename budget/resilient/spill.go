package resilient

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/proxide/proxide/budget"
)

// The spill directory is the replay buffer's record on disk. Every buffered settlement is
// appended to the active segment (one write(2) of one JSON line, so it survives the
// process being killed: it is in the kernel's page cache; the replay loop fsyncs it every
// RetryEvery against a machine crash) before Settle returns. Memory keeps at most
// MaxBuffered of them for fast replay; past that they live on disk only, instead of being
// dropped. Once memory is drained, the closed segments are either deleted (every entry
// was replayed from memory) or replayed from disk (some were not), oldest first. A new
// process replays every segment it finds. Settlements are idempotent by ID, so replaying
// one that already reached the store (the process died between the replay and the
// segment's deletion) changes nothing, as long as it comes within budget.SettledTTL.
//
// One process owns a directory (an flock on its lock file); a second one fails to start.

const (
	spillLock   = "LOCK"
	spillPrefix = "settle-"
	spillSuffix = ".jsonl"
	// maxSpillLine bounds one stored settlement when it is read back.
	maxSpillLine = 1 << 20
)

// spill is the on-disk part of the replay buffer; the Ledger's mu guards it.
type spill struct {
	dir    string
	lock   *os.File
	active *os.File // nil until the first append after a rotation
	dirty  bool     // written since the last fsync
	seq    int64
	// overflow: the active segment holds entries memory does not (written past
	// MaxBuffered), so it must be replayed from disk once closed.
	overflow int
	// pending are closed segments to replay from disk, oldest first, with the number of
	// their entries memory does not hold.
	pending []pendingSegment
}

type pendingSegment struct {
	name     string
	diskOnly int
}

// openSpill takes the directory (creating it) and lists what a previous process left.
func openSpill(dir string) (*spill, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("resilient: spill dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Clean(filepath.Join(dir, spillLock)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("resilient: spill dir: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lock.Close() // not ours to use
		return nil, fmt.Errorf("resilient: spill dir %s is in use by another process: %w", dir, err)
	}
	s := &spill{dir: dir, lock: lock, seq: time.Now().UnixNano()}
	names, err := filepath.Glob(filepath.Join(dir, spillPrefix+"*"+spillSuffix))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("resilient: spill dir: %w", err)
	}
	slices.SortFunc(names, compareSegments)
	for _, n := range names {
		lines, err := countLines(n)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("resilient: spill segment %s: %w", n, err)
		}
		if lines == 0 {
			_ = os.Remove(n) // an empty segment holds nothing to replay
			continue
		}
		s.pending = append(s.pending, pendingSegment{name: n, diskOnly: lines})
	}
	return s, nil
}

// compareSegments orders segment files by their sequence number (creation order).
func compareSegments(a, b string) int {
	return cmp.Compare(segmentSeq(a), segmentSeq(b))
}

func segmentSeq(name string) int {
	base := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), spillPrefix), spillSuffix)
	n, _ := strconv.Atoi(base) // a foreign name sorts first and is replayed like the others
	return n
}

// append writes one settlement as a JSON line; diskOnly says memory does not hold it.
func (s *spill) append(b buffered, diskOnly bool) error {
	line, err := json.Marshal(spilled{Req: b.req, At: b.at})
	if err != nil {
		return fmt.Errorf("resilient: spill: %w", err)
	}
	if s.active == nil {
		s.seq++
		name := filepath.Join(s.dir, spillPrefix+strconv.FormatInt(s.seq, 10)+spillSuffix)
		f, err := os.OpenFile(filepath.Clean(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("resilient: spill: %w", err)
		}
		s.active = f
	}
	if _, err := s.active.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("resilient: spill: %w", err)
	}
	s.dirty = true
	if diskOnly {
		s.overflow++
	}
	return nil
}

// sync fsyncs the active segment if it was written since the last call.
func (s *spill) sync() error {
	if s.active == nil || !s.dirty {
		return nil
	}
	s.dirty = false
	return s.active.Sync()
}

// rotate closes the active segment. Called with memory empty: when every entry of the
// segment was in memory it was replayed, and the segment is deleted; otherwise it joins
// pending.
func (s *spill) rotate() error {
	if s.active == nil {
		return nil
	}
	f := s.active
	s.active, s.dirty = nil, false
	err := errors.Join(f.Sync(), f.Close())
	if s.overflow == 0 && err == nil {
		return os.Remove(f.Name())
	}
	s.pending = append(s.pending, pendingSegment{name: f.Name(), diskOnly: s.overflow})
	s.overflow = 0
	return err
}

// diskOnly counts the settlements memory does not hold.
func (s *spill) diskOnly() int {
	n := s.overflow
	for _, p := range s.pending {
		n += p.diskOnly
	}
	return n
}

// close syncs and closes the files and releases the directory. Segments stay for the
// next process.
func (s *spill) close() {
	if s.active != nil {
		_ = s.active.Sync()  // best effort: the lines are written already
		_ = s.active.Close() // and stay for the next process
		s.active = nil
	}
	_ = s.lock.Close() // releases the flock
}

// spilled is the stored form of a buffered settlement.
type spilled struct {
	Req budget.SettleRequest `json:"req"`
	At  time.Time            `json:"at"`
}

// readSegment calls fn with each settlement of a segment in order, stopping at fn's
// first error. A line that does not decode (a write cut by a crash) is reported to bad
// and skipped.
func readSegment(name string, fn func(buffered) error, bad func(line int, err error)) error {
	f, err := os.Open(name) //nolint:gosec // G304: a segment of the spill directory, listed by openSpill or written by append
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxSpillLine)
	for n := 1; sc.Scan(); n++ {
		var s spilled
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			bad(n, err)
			continue
		}
		if err := fn(buffered{req: s.Req, at: s.At}); err != nil {
			return err
		}
	}
	return sc.Err()
}

func countLines(name string) (int, error) {
	n := 0
	err := readSegment(name, func(buffered) error { n++; return nil }, func(int, error) {})
	return n, err
}
