// Package noop is the floor of the load harness: an ext_proc server that
// answers every message with an empty reply of the right kind, as a
// do-nothing filter would, so a ratio to it is what Proxide's own work costs.
package noop

import (
	"context"
	"errors"
	"io"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Server is the no-op ext_proc server.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	// RoundTrip, when set, is called before answering the request body and
	// the last response chunk, where Proxide reserves and settles: a floor
	// that pays only a ledger's two round trips per request.
	RoundTrip func(context.Context) error
}

// Process answers each message in order until Envoy closes the stream.
func (s Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var resp *extprocv3.ProcessingResponse
		switch req.GetRequest().(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}
		case *extprocv3.ProcessingRequest_RequestBody:
			if err := s.roundTrip(stream.Context()); err != nil {
				return err
			}
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
		case *extprocv3.ProcessingRequest_ResponseBody:
			if req.GetResponseBody().GetEndOfStream() {
				if err := s.roundTrip(stream.Context()); err != nil {
					return err
				}
			}
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
		default:
			return nil
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (s Server) roundTrip(ctx context.Context) error {
	if s.RoundTrip == nil {
		return nil
	}
	return s.RoundTrip(ctx)
}
