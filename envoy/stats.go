package envoy

import "sync/atomic"

// Stats are the stand-in's counters, named after Envoy's ext_proc stats
// where one exists (streams_started, spurious_msgs_received, ...).
type Stats struct {
	Requests                 int64 // HTTP requests served
	DirectResponses          int64 // requests outside RoutePrefix (404, ext_proc disabled)
	PathRejects              int64 // paths the connection manager refused (400, no ext_proc)
	PathRedirects            int64 // paths redirected to their unescaped form (307)
	StreamsStarted           int64 // Process streams opened
	StreamsClosed            int64 // streams closed by the stand-in or ended OK by the server
	StreamsFailed            int64 // streams that ended with a gRPC error
	MessagesSent             int64 // ProcessingRequests sent
	MessagesReceived         int64 // ProcessingResponses accepted (errors included)
	SpuriousMessages         int64 // replies of the wrong kind for the state
	MessageTimeouts          int64 // per-message timer expiries
	OverrideTimeoutsReceived int64 // override_message_timeout honoured
	OverrideTimeoutsIgnored  int64 // override_message_timeout ignored
	RejectedHeaderMutations  int64 // mutations dropped by the checker or failing
	ImmediateResponses       int64 // ImmediateResponse messages received
	ModeOverrides            int64 // mode_override applied
	ModeOverridesIgnored     int64 // mode_override with an unsupported body mode
	FailureModeAllowed       int64 // errors passed over because of failure_mode_allow
	LocalReplies             int64 // local replies (immediate responses, errors, 413, 503...)
	DownstreamResets         int64 // client responses aborted
	ClientDisconnects        int64 // clients that went away first
	UpstreamRequests         int64 // requests sent upstream
	UpstreamFailures         int64 // upstream connect failures and mid-body resets
}

type counters struct {
	requests, directResponses                         atomic.Int64
	pathRejects, pathRedirects                        atomic.Int64
	streamsStarted, streamsClosed, streamsFailed      atomic.Int64
	messagesSent, messagesReceived, spuriousMessages  atomic.Int64
	messageTimeouts                                   atomic.Int64
	overrideTimeoutsReceived, overrideTimeoutsIgnored atomic.Int64
	rejectedHeaderMutations, immediateResponses       atomic.Int64
	modeOverrides, modeOverridesIgnored               atomic.Int64
	failureModeAllowed, localReplies                  atomic.Int64
	downstreamResets, clientDisconnects               atomic.Int64
	upstreamRequests, upstreamFailures                atomic.Int64
}

// Stats returns a snapshot of the counters.
func (s *StandIn) Stats() Stats {
	c := &s.stats
	return Stats{
		Requests:                 c.requests.Load(),
		DirectResponses:          c.directResponses.Load(),
		PathRejects:              c.pathRejects.Load(),
		PathRedirects:            c.pathRedirects.Load(),
		StreamsStarted:           c.streamsStarted.Load(),
		StreamsClosed:            c.streamsClosed.Load(),
		StreamsFailed:            c.streamsFailed.Load(),
		MessagesSent:             c.messagesSent.Load(),
		MessagesReceived:         c.messagesReceived.Load(),
		SpuriousMessages:         c.spuriousMessages.Load(),
		MessageTimeouts:          c.messageTimeouts.Load(),
		OverrideTimeoutsReceived: c.overrideTimeoutsReceived.Load(),
		OverrideTimeoutsIgnored:  c.overrideTimeoutsIgnored.Load(),
		RejectedHeaderMutations:  c.rejectedHeaderMutations.Load(),
		ImmediateResponses:       c.immediateResponses.Load(),
		ModeOverrides:            c.modeOverrides.Load(),
		ModeOverridesIgnored:     c.modeOverridesIgnored.Load(),
		FailureModeAllowed:       c.failureModeAllowed.Load(),
		LocalReplies:             c.localReplies.Load(),
		DownstreamResets:         c.downstreamResets.Load(),
		ClientDisconnects:        c.clientDisconnects.Load(),
		UpstreamRequests:         c.upstreamRequests.Load(),
		UpstreamFailures:         c.upstreamFailures.Load(),
	}
}
