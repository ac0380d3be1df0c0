package extproc

import "time"

// deepWork runs the deep steps of an exchange — admission (JSON decoding,
// token counting, pricing, the ledger call) and settlement — on goroutines
// kept for the purpose. On a stream's own goroutine these steps grow its
// stack to 16 KB, copied on the way up, and the stream keeps that stack,
// idle, for as long as its answer streams; on a fresh goroutine each time
// the copies are paid on every request instead. A kept goroutine has grown
// its stack once and reuses it.
//
// There is no bound on the goroutines: there are as many as steps running at
// once (each bounded by the ledger timeout), and a goroutine idle for
// deepIdle ends.
type deepWork struct {
	jobs chan func()
}

// deepIdle is how long a kept goroutine waits for the next step.
const deepIdle = 10 * time.Second

func newDeepWork() *deepWork { return &deepWork{jobs: make(chan func())} }

// run runs f on a kept goroutine and returns when f has.
func (w *deepWork) run(f func()) {
	done := make(chan struct{})
	job := func() {
		defer close(done)
		f()
	}
	select {
	case w.jobs <- job: // an idle goroutine took it
	default:
		go w.keep(job)
	}
	<-done
}

// keep runs job, then the jobs that come while it waits, until deepIdle
// passes without one.
func (w *deepWork) keep(job func()) {
	idle := time.NewTimer(deepIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(deepIdle)
		select {
		case job = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}
