package extproc

import (
	"context"
	"time"

	"github.com/proxide/proxide/budget"
)

// A reservation lives as long as its request: while the request runs (an
// o3-pro call that thinks for half an hour, a long stream) its sidecar renews
// the reservation's expiry every third of ReservationTTL, so only a dead
// sidecar's reservations expire, within ReservationTTL.

func (s *Server) holdLease(x *exchange) {
	s.leaseMu.Lock()
	s.leases[x] = struct{}{}
	s.leaseMu.Unlock()
}

func (s *Server) dropLease(x *exchange) {
	s.leaseMu.Lock()
	delete(s.leases, x)
	s.leaseMu.Unlock()
}

// KeepLeases renews the leases of every request in flight until ctx ends. Run
// it once per Server (serve does).
func (s *Server) KeepLeases(ctx context.Context) {
	every := s.opts.ReservationTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.RenewLeases(ctx)
		}
	}
}

// RenewLeases extends every in-flight reservation to now + ReservationTTL in
// one ledger call. A failure is logged: the next tick retries, and a
// reservation that expires meanwhile still settles (it is charged then).
func (s *Server) RenewLeases(ctx context.Context) {
	s.leaseMu.Lock()
	if len(s.leases) == 0 {
		s.leaseMu.Unlock()
		return
	}
	expiry := s.opts.Now().Add(s.opts.ReservationTTL)
	leases := make([]budget.Lease, 0, len(s.leases))
	for x := range s.leases {
		leases = append(leases, budget.Lease{ID: x.resID, ClientID: x.clientID, Expiry: expiry})
	}
	s.leaseMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReservationTTL/3)
	defer cancel()
	start := time.Now()
	err := s.opts.Ledger.Extend(ctx, leases)
	s.opts.Metrics.LedgerCall("extend", time.Since(start), err)
	if err != nil {
		s.opts.Logger.Warn("cannot renew reservation leases", "err", err, "leases", len(leases))
	}
}

// InFlight is the number of requests holding a reservation.
func (s *Server) InFlight() int {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	return len(s.leases)
}

// ReservationsInFlight is the number of requests past admission that hold a
// reservation now (their leases are renewed), for a gauge.
func (s *Server) ReservationsInFlight() int {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	return len(s.leases)
}
