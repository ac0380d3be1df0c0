package envoy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

type openResult int

const (
	openOK     openResult = iota
	openIgnore            // processing is complete (fail-open): continue
	openError             // a local reply was sent: stop
)

// openStream opens the Process stream lazily, on the first message.
func (f *filter) openStream() openResult {
	if f.processingComplete {
		return openIgnore
	}
	if f.stream != nil {
		return openOK
	}
	// The stream's lifetime is ours to end (close or abort), not the
	// request context's: it is cancelled when the handler returns.
	st, err := startStream(context.WithoutCancel(f.ctx), f.s.client)
	if err != nil {
		f.onGrpcError(err)
		if f.finished || f.sentLocalReply {
			return openError
		}
		return openIgnore
	}
	f.s.stats.streamsStarted.Add(1)
	f.stream = st
	return openOK
}

// closeStream is Envoy's close(): half-close after the queued messages, then reset.
func (f *filter) closeStream() {
	if f.stream == nil {
		return
	}
	f.stream.closeGracefully()
	f.stream.detach()
	f.stream = nil
	f.s.stats.streamsClosed.Add(1)
}

// closeStreamMaybeGraceful marks processing complete and closes the stream
// (ext_proc_graceful_grpc_close is false by default, so no waiting).
func (f *filter) closeStreamMaybeGraceful() {
	f.processingComplete = true
	f.closeStream()
}

func (f *filter) send(req *extprocv3.ProcessingRequest) {
	f.stream.send(req)
	f.s.stats.messagesSent.Add(1)
}

func (f *filter) buildHeaderRequest(st *procState, eos bool) *extprocv3.ProcessingRequest {
	req := &extprocv3.ProcessingRequest{MetadataContext: &corev3.Metadata{}}
	f.addAttributes(st, req)
	hh := &extprocv3.HttpHeaders{Headers: st.headers.proto(), EndOfStream: eos}
	if st.dir == dirRequest {
		req.Request = &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: hh}
	} else {
		req.Request = &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: hh}
	}
	f.encodeProtocolConfig(req)
	return req
}

func (f *filter) setupBodyChunk(st *procState, data []byte, eos bool) *extprocv3.ProcessingRequest {
	req := &extprocv3.ProcessingRequest{MetadataContext: &corev3.Metadata{}}
	f.addAttributes(st, req)
	// Copy: the sender goroutine marshals later, our buffers keep changing.
	hb := &extprocv3.HttpBody{Body: append([]byte{}, data...), EndOfStream: eos}
	if st.dir == dirRequest {
		req.Request = &extprocv3.ProcessingRequest_RequestBody{RequestBody: hb}
	} else {
		req.Request = &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: hb}
	}
	f.encodeProtocolConfig(req)
	return req
}

// encodeProtocolConfig sets protocol_config on the first message of the stream only.
func (f *filter) encodeProtocolConfig(req *extprocv3.ProcessingRequest) {
	if f.protocolConfigSent {
		return
	}
	f.protocolConfigSent = true
	req.ProtocolConfig = &extprocv3.ProtocolConfiguration{
		RequestBodyMode:  f.dec.bodyMode,
		ResponseBodyMode: f.enc.bodyMode,
	}
}

func (f *filter) onRecv(rr recvResult) {
	if f.stream == nil || f.processingComplete {
		return // Envoy ignores messages after processing is complete
	}
	switch {
	case rr.err == nil:
		f.onReceiveMessage(rr.resp)
	case errors.Is(rr.err, io.EOF):
		f.onGrpcClose() // the server returned OK
	default:
		f.onGrpcError(rr.err)
	}
}

// onReceiveMessage is Filter::onReceiveMessage.
func (f *filter) onReceiveMessage(resp *extprocv3.ProcessingResponse) {
	if resp.GetOverrideMessageTimeout() != nil {
		f.onNewTimeout(resp.GetOverrideMessageTimeout())
		return // such a reply is not a reply: its other fields are ignored
	}
	if f.cfg.allowModeOverride && resp.GetModeOverride() != nil &&
		(f.dec.cb == cbHeaders || f.enc.cb == cbHeaders) {
		f.applyModeOverride(resp)
	}
	var err error
	lastBody := false
	switch v := resp.GetResponse().(type) {
	case *extprocv3.ProcessingResponse_RequestHeaders:
		err = f.handleHeadersResponse(f.dec, v.RequestHeaders)
	case *extprocv3.ProcessingResponse_ResponseHeaders:
		err = f.handleHeadersResponse(f.enc, v.ResponseHeaders)
	case *extprocv3.ProcessingResponse_RequestBody:
		lastBody = f.dec.isLastBodyResponse()
		err = f.handleBodyResponse(f.dec, v.RequestBody)
	case *extprocv3.ProcessingResponse_ResponseBody:
		lastBody = f.enc.isLastBodyResponse()
		err = f.handleBodyResponse(f.enc, v.ResponseBody)
	case *extprocv3.ProcessingResponse_RequestTrailers:
		err = f.handleTrailersResponse(f.dec, v.RequestTrailers)
	case *extprocv3.ProcessingResponse_ResponseTrailers:
		err = f.handleTrailersResponse(f.enc, v.ResponseTrailers)
	case *extprocv3.ProcessingResponse_ImmediateResponse:
		f.s.stats.immediateResponses.Add(1)
		f.s.stats.messagesReceived.Add(1)
		f.processingComplete = true
		f.finishCalls()
		f.closeStreamMaybeGraceful()
		f.sendImmediateResponse(v.ImmediateResponse)
		return
	default:
		// Streamed immediate responses and empty replies are spurious.
		err = fmt.Errorf("%w: unhandled message", errSpurious)
	}
	switch {
	case err == nil:
		f.s.stats.messagesReceived.Add(1)
	case errors.Is(err, errSpurious):
		f.s.stats.spuriousMessages.Add(1)
		f.log.Warn("spurious ext_proc message", "kind", fmt.Sprintf("%T", resp.GetResponse()))
		if f.cfg.FailureModeAllow {
			f.s.stats.failureModeAllowed.Add(1)
			f.closeStream()
			f.clearAsyncState()
			f.processingComplete = true
		} else {
			f.handleErrorResponse(err)
		}
	default:
		f.s.stats.messagesReceived.Add(1)
		f.handleErrorResponse(err)
	}
	f.closeIfLastResponse(resp, lastBody)
}

func (f *filter) applyModeOverride(resp *extprocv3.ProcessingResponse) {
	mo := effectiveModeOverride(resp.GetModeOverride(), f.cfg.mode)
	if !supportedBodyMode(mo.GetRequestBodyMode()) || !supportedBodyMode(mo.GetResponseBodyMode()) {
		f.s.stats.modeOverridesIgnored.Add(1)
		f.log.Warn("mode_override with an unsupported body mode ignored", "mode", mo.String())
		return
	}
	f.s.stats.modeOverrides.Add(1)
	f.dec.setProcessingMode(mo)
	f.enc.setProcessingMode(mo)
}

// closeIfLastResponse is closeGrpcStreamIfLastRespReceived
// (ext_proc_stream_close_optimization, on by default).
func (f *filter) closeIfLastResponse(resp *extprocv3.ProcessingResponse, lastBody bool) {
	if f.stream == nil {
		return
	}
	last := false
	switch resp.GetResponse().(type) {
	case *extprocv3.ProcessingResponse_RequestHeaders:
		last = (f.dec.noBody || (f.dec.bodyMode == extprocfilterv3.ProcessingMode_NONE && !f.dec.sendTrailers)) && f.enc.noExternalProcess()
	case *extprocv3.ProcessingResponse_RequestBody:
		last = lastBody && f.enc.noExternalProcess()
	case *extprocv3.ProcessingResponse_ResponseHeaders:
		last = f.enc.noBody || (f.enc.bodyMode == extprocfilterv3.ProcessingMode_NONE && !f.enc.sendTrailers)
	case *extprocv3.ProcessingResponse_RequestTrailers:
		last = f.enc.noExternalProcess()
	case *extprocv3.ProcessingResponse_ResponseBody:
		last = lastBody
	case *extprocv3.ProcessingResponse_ResponseTrailers:
		last = true
	}
	if last {
		f.closeStreamMaybeGraceful()
	}
}

func (f *filter) onNewTimeout(d *durationpb.Duration) {
	if d.CheckValid() != nil || d.AsDuration() < time.Millisecond || d.AsDuration() > f.cfg.MaxMessageTimeout {
		f.s.stats.overrideTimeoutsIgnored.Add(1)
		return
	}
	decOK := f.dec.restartTimer(d.AsDuration())
	encOK := f.enc.restartTimer(d.AsDuration())
	if !decOK && !encOK {
		f.s.stats.overrideTimeoutsIgnored.Add(1)
		return
	}
	f.s.stats.overrideTimeoutsReceived.Add(1)
}

// onGrpcClose: the server ended the stream with OK; Envoy stops consulting it.
func (f *filter) onGrpcClose() {
	if f.processingComplete {
		return
	}
	f.processingComplete = true
	f.closeStream()
	f.clearAsyncState()
}

func (f *filter) onGrpcError(err error) {
	f.s.stats.streamsFailed.Add(1)
	if f.processingComplete {
		return
	}
	st := status.Convert(err)
	f.log.Warn("ext_proc stream failed", "code", st.Code().String(), "message", st.Message())
	if f.cfg.FailureModeAllow {
		f.s.stats.failureModeAllowed.Add(1)
		f.onGrpcClose()
		return
	}
	f.processingComplete = true
	f.finishCalls()
	f.abortStream()
	f.sendLocalReply(f.cfg.StatusOnError, nil, nil,
		fmt.Sprintf("ext_proc_error_gRPC_error_%d{%s}", int(st.Code()), st.Message()))
}

func (f *filter) onMessageTimeout() {
	f.s.stats.messageTimeouts.Add(1)
	if f.processingComplete {
		return
	}
	f.processingComplete = true
	f.closeStream()
	if f.cfg.FailureModeAllow {
		f.s.stats.failureModeAllowed.Add(1)
		f.clearAsyncState()
		return
	}
	f.finishCalls()
	// status_on_error does not apply here.
	f.sendLocalReply(504, nil, nil, "ext_proc_error_per-message_timeout_exceeded")
}

// handleErrorResponse answers status_on_error for mutation errors (whatever
// failure_mode_allow says) and for spurious messages when failing closed.
func (f *filter) handleErrorResponse(err error) {
	f.processingComplete = true
	f.finishCalls()
	f.closeStream()
	msg := err.Error()
	for _, prefix := range []string{errMutation.Error() + ": ", errSpurious.Error() + ": "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	f.sendLocalReply(f.cfg.StatusOnError, nil, nil, msg)
}

func (f *filter) clearAsyncState() {
	f.dec.clearAsyncState()
	f.enc.clearAsyncState()
}

func (f *filter) finishCalls() {
	f.dec.finishCall(cbIdle)
	f.enc.finishCall(cbIdle)
}
