package extproc

import (
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// In a mesh the client is better named by its workload identity than by a
// header it writes itself: Envoy has verified the downstream peer's
// certificate, whose URI SAN is a SPIFFE id
// ("spiffe://cluster.local/ns/team-a/sa/agent-7"). With
// Options.ClientIDFromPeer the client id is that URI, sent by Envoy when the
// ext_proc filter lists PeerURIAttribute in request_attributes; the
// client-id header is then ignored (and still stripped), and a request
// without a verified peer is refused, never given the default client id.

// PeerURIAttribute is the CEL attribute Envoy fills with the first URI SAN of
// the downstream peer certificate.
const PeerURIAttribute = "connection.uri_san_peer_certificate"

// attributesKey is the key of the ext_proc filter's attributes in
// ProcessingRequest.attributes.
const attributesKey = "envoy.filters.http.ext_proc"

// peerURI returns the peer certificate's URI SAN Envoy sent with the first
// request message, or "".
func peerURI(req *extprocv3.ProcessingRequest) string {
	return req.GetAttributes()[attributesKey].GetFields()[PeerURIAttribute].GetStringValue()
}

// peerIdentityRequired is the refusal of a request without a verified peer
// identity when ids come from the mesh.
func peerIdentityRequired() *extprocv3.ProcessingResponse {
	return openAIError(403, "invalid_request_error", "peer_identity_required", "",
		"This gateway names clients by their mesh identity (the URI SAN of the peer certificate, "+PeerURIAttribute+
			"), and the request came without one. Call through the mesh with mutual TLS.")
}
