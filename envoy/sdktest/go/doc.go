// Package sdktest drives `proxide dev` with the official OpenAI Go SDK
// (github.com/openai/openai-go/v3), unchanged apart from its base URL, its
// key and the client-id header: every call the SDK makes through the Envoy
// stand-in and Proxide must come back exactly as the fake upstream sent it,
// be charged the hand-computed cost, and a 402 or a loop's 429 must surface
// at once as the SDK's error, without a retry.
//
// It is a module of its own so the SDK stays out of the sidecar's module
// graph; `make test` runs it.
package sdktest
