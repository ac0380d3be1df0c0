package admin

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

var (
	loopModeFromProto = map[proxidev1.LoopMode]string{
		proxidev1.LoopMode_LOOP_MODE_UNSPECIFIED: "",
		proxidev1.LoopMode_LOOP_MODE_OFF:         rules.LoopModeOff,
		proxidev1.LoopMode_LOOP_MODE_BLOCK:       rules.LoopModeBlock,
		proxidev1.LoopMode_LOOP_MODE_ALERT:       rules.LoopModeAlert,
	}
	loopModeProto = map[string]proxidev1.LoopMode{
		"":                  proxidev1.LoopMode_LOOP_MODE_UNSPECIFIED,
		rules.LoopModeOff:   proxidev1.LoopMode_LOOP_MODE_OFF,
		rules.LoopModeBlock: proxidev1.LoopMode_LOOP_MODE_BLOCK,
		rules.LoopModeAlert: proxidev1.LoopMode_LOOP_MODE_ALERT,
	}
)

// loopSpecFromProto converts the message; only the enum and malformed durations can be
// invalid here, the ranges are the Service's to check.
func loopSpecFromProto(l *proxidev1.LoopDetection) (*rules.LoopSpec, error) {
	mode, ok := loopModeFromProto[l.GetMode()]
	if !ok {
		return nil, fieldErr("loop_detection.mode", "unknown mode %d", l.GetMode())
	}
	out := &rules.LoopSpec{Mode: mode, MaxRepeats: int(l.GetMaxRepeats()), Similarity: l.GetSimilarity()}
	for _, d := range []struct {
		field string
		pb    *durationpb.Duration
		dst   *string
	}{{"window", l.GetWindow(), &out.Window}, {"cooldown", l.GetCooldown(), &out.Cooldown}} {
		if d.pb == nil {
			continue
		}
		if err := d.pb.CheckValid(); err != nil {
			return nil, fieldErr("loop_detection."+d.field, "not a valid duration: %v", err)
		}
		if v := d.pb.AsDuration(); v != 0 {
			*d.dst = v.String() // exact: time.ParseDuration reads it back
		}
	}
	return out, nil
}

// loopDetectionProto shows a rule's loop settings; nil when it inherits all of them.
func loopDetectionProto(l rules.LoopSettings) *proxidev1.LoopDetection {
	if l.IsZero() {
		return nil
	}
	out := &proxidev1.LoopDetection{Mode: loopModeProto[l.Mode], MaxRepeats: count32(l.MaxRepeats), Similarity: l.Similarity}
	if l.Window != 0 {
		out.Window = durationpb.New(l.Window)
	}
	if l.Cooldown != 0 {
		out.Cooldown = durationpb.New(l.Cooldown)
	}
	return out
}

func loopEventProto(e budget.LoopEvent) *proxidev1.LoopEvent {
	return &proxidev1.LoopEvent{ClientId: e.ClientID, At: timestamp(e.At), Kind: e.Kind, Repeats: count32(e.Repeats),
		Signature: &proxidev1.LoopSignature{Exact: hex16(e.Exact), Sim: hex16(e.Sim)}, Excerpt: e.Excerpt,
		Blocked: e.Blocked, CooldownUntil: timestamp(e.Until)}
}

func (g *grpcServer) ListLoops(ctx context.Context, req *proxidev1.ListLoopsRequest) (*proxidev1.ListLoopsResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	page, err := g.svc.ListLoops(ctx, budget.LoopQuery{ClientID: req.GetClientId(), Limit: int(req.GetLimit()), Cursor: req.GetCursor()})
	if err != nil {
		return nil, grpcError(err)
	}
	out := &proxidev1.ListLoopsResponse{NextCursor: page.NextCursor, Events: make([]*proxidev1.LoopEvent, 0, len(page.Events))}
	for _, e := range page.Events {
		out.Events = append(out.Events, loopEventProto(e))
	}
	return out, nil
}

func (g *grpcServer) ClearLoop(ctx context.Context, req *proxidev1.ClearLoopRequest) (*proxidev1.ClearLoopResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	cleared, err := g.svc.ClearLoop(ctx, req.GetClientId())
	if err != nil {
		return nil, grpcError(err)
	}
	return &proxidev1.ClearLoopResponse{ClientId: req.GetClientId(), Cleared: cleared}, nil
}
